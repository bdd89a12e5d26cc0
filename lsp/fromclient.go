package lsp

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/jsonfold"
)

// clientPump is the client's sole reader: it checks, rewrites and forwards
// each message to gopls, in order, until the client fails or a message is
// malformed (a bridge.CloseError, 1007).
func (s *session) clientPump(ctx context.Context) error {
	for {
		raw, err := s.client.ReadText()
		if err != nil {
			return err
		}
		start := time.Now()
		s.mu.Lock()
		s.lastActive = start
		s.mu.Unlock()
		if err := s.limiter.Wait(ctx); err != nil {
			return err
		}
		if err := s.clientMessage(ctx, raw); err != nil {
			return err
		}
		s.forwarded("to_server", start)
	}
}

// clientMessage checks, rewrites and forwards one client message: on the
// raw path when rawClient can, decoded otherwise. Its errors end the
// session.
func (s *session) clientMessage(ctx context.Context, raw []byte) error {
	if out, env, ok := s.rw.rawClient(raw); ok {
		if msg := rawClientMessage(env); msg != nil {
			return s.toServer(ctx, msg, out)
		}
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
		return bridge.Closing(bridge.CloseInvalidPayload, "malformed JSON-RPC message", err)
	}
	return s.fromClient(ctx, msg)
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
		if !commandAllowed(cmd) {
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
			return bridge.Closing(bridge.ClosePolicyViolation, "open documents exceed the size limit", err)
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
	return s.toServer(ctx, msg, raw)
}

// rawClientMessage is the message of a rawClient envelope, nil when the
// decoding path must judge it (a reserved id, an id that is neither a
// number nor a string without escapes).
func rawClientMessage(env envelope) *message {
	msg := &message{method: string(env.method)}
	if env.id == nil || string(env.id) == "null" {
		return msg
	}
	key := rawIDKey(env.id)
	if key == "" || strings.HasPrefix(key, "s:"+proxyIDPrefix) {
		return nil
	}
	msg.id, msg.idKey = idFromKey(key), key
	return msg
}

// toServer writes raw, the client's message msg in gopls's form, to
// gopls, starting it if it is stopped, and notes a request as pending.
func (s *session) toServer(ctx context.Context, msg *message, raw []byte) error {
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
