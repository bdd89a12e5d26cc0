package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/internal/jsonfold"
)

// clientPump is the client's sole reader: it checks, rewrites and forwards
// each message to gopls, in order, until the client fails or a message is
// malformed (CloseError 1007).
func (s *session) clientPump(ctx context.Context) error {
	for {
		var raw json.RawMessage
		if err := s.client.ReadObject(&raw); err != nil {
			return err
		}
		start := time.Now()
		s.mu.Lock()
		s.lastActive = start
		s.mu.Unlock()
		if err := s.limiter.wait(ctx); err != nil {
			return err
		}
		msg, err := parseMessage(raw)
		if err == nil && jsonfold.Collides(msg.obj, isURIKey) {
			// gopls decodes with encoding/json, which matches keys
			// case-insensitively ('ſ' as 's', 'K' as 'k') and keeps the
			// last; it reads the re-encoded message in sorted key order,
			// so "paramſ" would win over the "params" the proxy checked.
			err = errFoldedKeys
		}
		if err != nil {
			s.count("malformed")
			return &CloseError{Code: closeInvalidData, Reason: "malformed JSON-RPC message", Err: err}
		}
		if err := s.fromClient(ctx, msg); err != nil {
			return err
		}
		s.forwarded("to_server", start)
	}
}

const msgOutside = "The URI is outside file:///workspace, file:///goroot and file:///gomodcache, or is not a valid file URI."

// fromClient handles one client message. Its errors end the session.
func (s *session) fromClient(ctx context.Context, msg *message) error {
	if msg.isResponse() {
		return s.clientResponse(ctx, msg)
	}
	if msg.isRequest() && isProxyID(msg.id) {
		s.replyError(msg, codeInvalidRequest, "Request ids starting with \""+proxyIDPrefix+"\" are reserved.")
		return nil
	}
	params := msg.obj["params"]
	switch msg.method {
	case protocol.MethodInitialize:
		p, ok := params.(map[string]any)
		if !ok {
			if msg.isRequest() {
				s.replyError(msg, codeInvalidParams, "initialize needs an object of parameters.")
			}
			return nil
		}
		// The view is fixed; what the client says about it is replaced.
		delete(p, "rootUri")
		delete(p, "rootPath")
		delete(p, "workspaceFolders")
	case protocol.MethodWorkspaceDidChangeWorkspaceFolders:
		s.count("workspace_folders")
		return nil // the one folder is /workspace (LSP-01)
	case protocol.MethodWorkspaceExecuteCommand:
		p, _ := params.(map[string]any)
		cmd, _ := p["command"].(string)
		if !CommandAllowed(cmd) {
			s.count("command")
			if msg.isRequest() {
				s.replyError(msg, codeInvalidParams, "This command is not allowed here.")
			}
			return nil
		}
	case protocol.MethodWorkspaceDidChangeConfiguration:
		sanitizeSettings(params)
	}
	if msg.isRequest() && editsReadOnlyDocument(msg.method, params) {
		s.count("read_only_edit")
		s.replyError(msg, codeRequestFailed, msgReadOnlyEdit)
		return nil
	}
	if params != nil {
		np, err := s.rw.ToHost(params)
		if err != nil {
			s.count("uri")
			if msg.isRequest() {
				s.replyError(msg, codeInvalidParams, msgOutside)
			}
			return nil
		}
		params = np
		msg.obj["params"] = np
	}
	if err := s.track(msg, params); err != nil {
		if errors.Is(err, errOpenBytes) {
			s.count("open_documents")
			return &CloseError{Code: closePolicy, Reason: "open documents exceed the size limit", Err: err}
		}
		if msg.isRequest() {
			s.replyError(msg, codeInvalidParams, "The document change does not apply to the document.")
		}
		return nil
	}
	raw, err := msg.encode()
	if err != nil {
		return err
	}

	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	g, err := s.ensureServer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if msg.isRequest() {
			s.replyError(msg, codeRequestFailed, "The Go language server is not available; try again in a moment.")
		}
		return nil
	}
	if msg.isRequest() {
		s.mu.Lock()
		if len(s.pending) >= s.m.opts.MaxInFlight {
			s.mu.Unlock()
			s.count("in_flight")
			s.replyError(msg, codeRequestFailed, "Too many requests in flight; wait for answers first.")
			return nil
		}
		s.pending[msg.idKey] = msg.method
		s.mu.Unlock()
	}
	if err := g.write(raw); err != nil && msg.isRequest() {
		s.mu.Lock()
		_, still := s.pending[msg.idKey]
		delete(s.pending, msg.idKey)
		s.mu.Unlock()
		if still {
			s.replyError(msg, codeRequestFailed, "The Go language server stopped; try again in a moment.")
		}
	}
	return nil
}

// track keeps what a restart must replay: initialize, initialized and the
// text of every open document.
func (s *session) track(msg *message, params any) error {
	p, _ := params.(map[string]any)
	td, _ := p["textDocument"].(map[string]any)
	uri, _ := td["uri"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch msg.method {
	case protocol.MethodInitialize:
		sanitizeInitialize(p, s.toolWorkspaceURI())
		raw, err := encode(p)
		if err != nil {
			return err
		}
		s.initParams = raw
	case protocol.MethodInitialized:
		s.initialized = true
	case protocol.MethodShutdown, protocol.MethodExit:
		s.exiting = true
	case protocol.MethodTextDocumentDidOpen:
		text, _ := td["text"].(string)
		lang, _ := td["languageId"].(string)
		if uri == "" {
			return nil
		}
		// A document costs its text and its URI (empty documents are
		// not free).
		old, ok := s.docs[uri]
		total := s.docBytes + len(text)
		if ok {
			total -= len(old.text)
		} else {
			total += len(uri)
		}
		if total > s.m.opts.MaxOpenBytes {
			return errOpenBytes
		}
		if !ok {
			s.docOrder = append(s.docOrder, uri)
		}
		s.docs[uri] = &document{languageID: lang, version: td["version"], text: text}
		s.docBytes = total
	case protocol.MethodTextDocumentDidChange:
		d := s.docs[uri]
		if d == nil {
			return nil
		}
		changes, _ := p["contentChanges"].([]any)
		text, err := applyChanges(d.text, changes, s.enc, s.m.opts.MaxOpenBytes-s.docBytes+len(d.text))
		if err != nil {
			return err
		}
		s.docBytes += len(text) - len(d.text)
		d.text, d.version = text, td["version"]
	case protocol.MethodTextDocumentDidClose:
		if d, ok := s.docs[uri]; ok {
			s.docBytes -= len(d.text) + len(uri)
			delete(s.docs, uri)
			for i, u := range s.docOrder {
				if u == uri {
					s.docOrder = append(s.docOrder[:i], s.docOrder[i+1:]...)
					break
				}
			}
		}
	}
	return nil
}

// clientResponse forwards the client's answer to a gopls request.
func (s *session) clientResponse(ctx context.Context, msg *message) error {
	s.mu.Lock()
	method, ok := s.serverReqs[msg.idKey]
	delete(s.serverReqs, msg.idKey)
	s.mu.Unlock()
	if !ok {
		return nil // not asked, or asked by a gopls that has gone
	}
	if method == protocol.MethodWorkspaceConfiguration {
		sanitizeSettings(msg.obj["result"])
	}
	if res, ok := msg.obj["result"]; ok && res != nil {
		nr, err := s.rw.ToHost(res)
		if err != nil {
			s.count("uri")
			delete(msg.obj, "result")
			msg.obj["error"] = map[string]any{"code": codeInvalidParams, "message": "refused by the proxy"}
		} else {
			msg.obj["result"] = nr
		}
	}
	raw, err := msg.encode()
	if err != nil {
		return err
	}
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if g := s.current(); g != nil {
		_ = g.write(raw)
	}
	return nil
}

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

// takeWatchRegistrations removes workspace/didChangeWatchedFiles
// registrations from params[key], which the proxy serves itself, and
// reports whether it removed any.
func (s *session) takeWatchRegistrations(params map[string]any, key string, register bool) bool {
	regs, _ := params[key].([]any)
	kept := regs[:0:0]
	took := false
	for _, r := range regs {
		rm, _ := r.(map[string]any)
		if m, _ := rm["method"].(string); m == protocol.MethodWorkspaceDidChangeWatchedFiles {
			took = true
			continue
		}
		kept = append(kept, r)
	}
	if took {
		params[key] = kept
		s.mu.Lock()
		s.watchOn = register
		s.mu.Unlock()
	}
	return took
}

// replyServer answers a gopls request on the client's behalf. It writes
// from a goroutine: the pump must never block on gopls's input while gopls
// may be blocked on its output.
func (s *session) replyServer(g *gopls, v any) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = g.send(v)
	}()
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
