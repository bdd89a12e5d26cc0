package lsp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errMalformed is wrapped for messages that are not one JSON-RPC object.
var errMalformed = errors.New("malformed JSON-RPC message")

// errFoldedKeys is wrapped for a client message with two keys that differ
// only in case.
var errFoldedKeys = fmt.Errorf("%w: keys that differ only in case", errMalformed)

// message is one decoded JSON-RPC 2.0 message.
type message struct {
	obj    map[string]any
	method string // "" for responses
	id     any    // nil for notifications
	idKey  string // the id re-encoded, "" when absent
}

func (m *message) isRequest() bool      { return m.method != "" && m.idKey != "" }
func (m *message) isNotification() bool { return m.method != "" && m.idKey == "" }
func (m *message) isResponse() bool     { return m.method == "" && m.idKey != "" }

// parseMessage decodes raw as a JSON-RPC message. Numbers keep their text
// (json.Number), so ids and versions round-trip exactly.
func parseMessage(raw []byte) (*message, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: not an object", errMalformed)
	}
	if len(bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n")) > 0 {
		// (dec.More would let a stray '}' or ']' through.)
		return nil, fmt.Errorf("%w: trailing data", errMalformed)
	}
	m := &message{obj: obj}
	if v, ok := obj["method"]; ok {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%w: method is not a string", errMalformed)
		}
		m.method = s
	}
	if v, ok := obj["id"]; ok && v != nil {
		switch v.(type) {
		case string, json.Number:
		default:
			return nil, fmt.Errorf("%w: id is not a string or number", errMalformed)
		}
		m.id = v
		m.idKey = idKey(v)
	}
	if m.method == "" && m.idKey == "" {
		return nil, fmt.Errorf("%w: neither request, notification nor response", errMalformed)
	}
	return m, nil
}

func idKey(v any) string {
	switch x := v.(type) {
	case string:
		return "s:" + x
	case json.Number:
		return "n:" + x.String()
	}
	return ""
}

// encode marshals v without HTML escaping.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func (m *message) encode() ([]byte, error) { return encode(m.obj) }

// JSON-RPC and LSP error codes the proxy answers with.
const (
	codeInvalidRequest = -32600
	codeInvalidParams  = -32602
	codeRequestFailed  = -32803
)

// errorResponse is a response carrying a safe message (never a host path).
func errorResponse(id any, code int, msg string) map[string]any {
	return map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": code, "message": msg},
	}
}

func resultResponse(id any, result any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": id, "result": result}
}

func notification(method string, params any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "method": method, "params": params}
}

func request(id any, method string, params any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params}
}

// isURIKey reports whether an object key holds ':' (the URIs keying
// WorkspaceEdit.changes), which gopls decodes as map keys, compared exactly;
// such keys are not checked for case-folding collisions.
func isURIKey(k string) bool { return strings.Contains(k, ":") }
