package lsp

import (
	"bytes"
	"strings"
	"time"

	"go.lsp.dev/protocol"
)

// fromServer handles one message from gopls g.
func (s *session) fromServer(g *gopls, raw []byte) {
	start := time.Now()
	if out, ok := s.fastToClient(g, raw); ok {
		if out != nil {
			s.writeClient(out)
			s.forwarded("to_client", start)
		}
		return
	}
	msg, err := parseMessage(raw)
	if err != nil {
		s.log.Warn("malformed message from gopls", "err", err)
		return
	}
	if msg.isResponse() && isProxyID(msg.id) {
		g.deliver(msg)
		return
	}
	changed := false
	if s.rw.mayNeedClientRewrite(raw) {
		msg.obj = s.rw.ToClient(msg.obj).(map[string]any)
		changed = true
	}
	switch {
	case msg.isResponse():
		s.mu.Lock()
		method, ok := s.pending[msg.idKey]
		delete(s.pending, msg.idKey)
		if ok && method == protocol.MethodInitialize {
			s.enc = positionEncoding(msg.obj["result"])
		}
		s.mu.Unlock()
		if !ok || s.current() != g {
			return // already answered with an error
		}
		if refuseReadOnlyEdits(method, msg) {
			s.count("read_only_edit")
			changed = true
		}
	case msg.isRequest():
		params, _ := msg.obj["params"].(map[string]any)
		switch msg.method {
		case protocol.MethodClientRegisterCapability, protocol.MethodClientUnregisterCapability:
			key := "registrations"
			if msg.method == protocol.MethodClientUnregisterCapability {
				key = "unregisterations"
			}
			if s.takeWatchRegistrations(params, key, msg.method == protocol.MethodClientRegisterCapability) {
				regs, _ := params[key].([]any)
				if len(regs) == 0 {
					s.replyServer(g, resultResponse(msg.id, nil))
					return
				}
				changed = true
			}
		case protocol.MethodWorkspaceApplyEdit:
			if !allURIs(params["edit"], "", func(u string) bool { return inClientRoots(u, true) }) {
				reason := "edit outside the workspace"
				if allURIs(params["edit"], "", func(u string) bool { return inClientRoots(u, false) }) {
					// Only read-only roots besides the workspace: the
					// user is told, since a command of theirs asked.
					reason = msgReadOnlyEdit
					s.count("read_only_edit")
					s.showMessage(protocol.MessageTypeWarning, msgReadOnlyEdit)
				} else {
					s.count("apply_edit") // LSP-04
				}
				s.replyServer(g, resultResponse(msg.id, protocol.ApplyWorkspaceEditResponse{Applied: false, FailureReason: reason}))
				return
			}
		case protocol.MethodShowDocument:
			uri, _ := params["uri"].(string)
			if ext, _ := params["external"].(bool); ext || !inClientRoots(uri, false) {
				s.count("show_document")
				s.replyServer(g, resultResponse(msg.id, map[string]any{"success": false}))
				return
			}
		}
		s.mu.Lock()
		s.serverReqs[msg.idKey] = msg.method
		s.mu.Unlock()
	}
	out := raw
	if changed {
		b, err := msg.encode()
		if err != nil {
			return
		}
		out = b
	}
	s.writeClient(out)
	s.forwarded("to_client", start)
}

// positionEncoding is the encoding gopls chose in its initialize result.
func positionEncoding(result any) string {
	r, _ := result.(map[string]any)
	caps, _ := r["capabilities"].(map[string]any)
	if e, _ := caps["positionEncoding"].(string); e != "" {
		switch strings.ToLower(e) {
		case encUTF8, encUTF32:
			return strings.ToLower(e)
		}
	}
	return encUTF16
}

// fastToClient handles the common messages from gopls (notifications and
// responses to ordinary requests) without decoding them: scanMessage
// checks the JSON and finds the id and method in one pass, and host
// directories are replaced in the raw JSON, which is exact when they hold
// no character JSON escapes (rewriter.rawSafe) and no escape in the
// message spells a character of one. A message without a host directory
// is forwarded as it came. ok is false when the message needs the full
// path; out is nil for a message to drop.
func (s *session) fastToClient(g *gopls, raw []byte) (out []byte, ok bool) {
	if !s.rw.rawSafe {
		return nil, false
	}
	env, risky, ok := scanMessage(raw, s.rw.text.inNeedle)
	if !ok || risky {
		return nil, false
	}
	hasID := env.id != nil && string(env.id) != "null"
	switch {
	case env.hasMethod && hasID:
		return nil, false // a request from gopls: checked on the full path
	case env.hasMethod && len(env.method) == 0:
		return nil, false // malformed: the full path says so
	case !env.hasMethod && hasID:
		key := rawIDKey(env.id)
		if key == "" || strings.HasPrefix(key, "s:"+proxyIDPrefix) {
			return nil, false
		}
		s.mu.Lock()
		method, pending := s.pending[key]
		if !pending || method == protocol.MethodInitialize || carriesEdits(method) {
			s.mu.Unlock()
			return nil, false
		}
		delete(s.pending, key)
		s.mu.Unlock()
		if s.current() != g {
			return nil, true // already answered with an error
		}
	case !env.hasMethod:
		return nil, false
	}
	if !s.rw.text.containsBytes(raw) {
		return raw, true
	}
	return []byte(s.rw.text.rewrite(string(raw))), true
}

// rawIDKey is idKey of a raw JSON id (a number or a string without
// escapes; "" for anything else).
func rawIDKey(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' || bytes.IndexByte(raw, '\\') >= 0 {
			return ""
		}
		return "s:" + string(raw[1:len(raw)-1])
	case c == '-' || ('0' <= c && c <= '9'):
		return "n:" + string(raw)
	}
	return ""
}
