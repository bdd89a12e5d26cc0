package lsp

import (
	"encoding/json"
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
// responses to ordinary requests) without decoding them into a tree: host
// directories are replaced in the raw JSON, which is exact when they hold
// no character JSON escapes and the message has no escapes that could
// spell one. ok is false when the message needs the full path; out is nil
// for a message to drop.
func (s *session) fastToClient(g *gopls, raw []byte) (out []byte, ok bool) {
	if !s.rw.rawSafe {
		return nil, false
	}
	str := string(raw)
	if strings.Contains(str, `\u`) || strings.Contains(str, `\/`) {
		return nil, false
	}
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return nil, false
	}
	hasID := len(env.ID) > 0 && string(env.ID) != "null"
	switch {
	case env.Method != "" && hasID:
		return nil, false // a request from gopls: checked on the full path
	case env.Method == "" && hasID:
		key := rawIDKey(env.ID)
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
	case env.Method == "":
		return nil, false
	}
	if out := s.rw.text.rewrite(str); out != str {
		return []byte(out), true
	}
	return raw, true
}

// rawIDKey is idKey of a raw JSON id.
func rawIDKey(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return idKey(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	return idKey(n)
}
