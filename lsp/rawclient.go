package lsp

import (
	"bytes"

	"go.lsp.dev/protocol"
)

// rawClientMethods are the client messages that fastFromClient may forward
// without decoding: requests and notifications that only read (no
// document tracking, no settings or commands, no edit into a read-only
// root to refuse), whose one concern is the URIs they name.
var rawClientMethods = map[string]bool{
	protocol.MethodTextDocumentHover:             true,
	protocol.MethodTextDocumentCompletion:        true,
	protocol.MethodCompletionItemResolve:         true,
	protocol.MethodTextDocumentSignatureHelp:     true,
	protocol.MethodTextDocumentDefinition:        true,
	protocol.MethodTextDocumentTypeDefinition:    true,
	protocol.MethodTextDocumentDeclaration:       true,
	protocol.MethodTextDocumentImplementation:    true,
	protocol.MethodTextDocumentReferences:        true,
	protocol.MethodTextDocumentDocumentHighlight: true,
	protocol.MethodTextDocumentDocumentSymbol:    true,
	protocol.MethodTextDocumentCodeAction:        true,
	protocol.MethodTextDocumentCodeLens:          true,
	protocol.MethodTextDocumentDocumentLink:      true,
	protocol.MethodTextDocumentFoldingRange:      true,
	"textDocument/selectionRange":                true,
	protocol.MethodTextDocumentPrepareRename:     true,
	protocol.MethodSemanticTokensFull:            true,
	protocol.MethodSemanticTokensFullDelta:       true,
	protocol.MethodSemanticTokensRange:           true,
	protocol.MethodWorkspaceSymbol:               true,
	protocol.MethodTextDocumentDidSave:           true,
	protocol.MethodCancelRequest:                 true,
	"textDocument/inlayHint":                     true,
	"textDocument/diagnostic":                    true,
}

// maxRawKeys bounds the keys of one object that rawClient compares
// pairwise; an object with more takes the decoding path.
const maxRawKeys = 32

// rawClient rewrites a client message for gopls without decoding it,
// when that is exactly what the decoding path would do: raw is one JSON
// object (scanMessage), with no escape anywhere and only ASCII keys
// without a colon, no two of which in one object are equal but for case;
// its method is in rawClientMethods. Then the URIs of its params are
// mapped to gopls's (ToHost's rule: a string under a URI key, any other
// string but document text that starts with "file:") and every other byte
// is kept. ok is false when the message needs the decoding path, which
// also answers what this one will not judge (a URI outside the roots, a
// reserved id, folded keys).
func (rw *rewriter) rawClient(raw []byte) (out []byte, env envelope, ok bool) {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return nil, env, false
	}
	env, _, ok = scanMessage(raw, func(rune) bool { return false })
	if !ok || !env.hasMethod || !rawClientMethods[string(env.method)] {
		return nil, env, false
	}
	w := rawWalk{s: scanner{b: raw, isRisky: func(rune) bool { return false }}, rw: rw, keys: make([][]byte, 0, 16)}
	w.s.space()
	if !w.object(nil, true) {
		return nil, env, false
	}
	if w.out == nil {
		return raw, env, true
	}
	return append(w.out, raw[w.last:]...), env, true
}

// rawWalk is rawClient's walk over a message scanMessage accepted, which
// has no escapes: out is the rewritten message up to last in the input
// (nil while nothing is rewritten).
type rawWalk struct {
	s    scanner
	rw   *rewriter
	out  []byte
	last int
	keys [][]byte // the keys of the objects being walked, outermost first
}

// object walks the object at s.i; key is the key it is the value of, top
// whether it is the message itself (whose params alone are rewritten).
func (w *rawWalk) object(key []byte, top bool) bool {
	first := len(w.keys) // this object's keys are w.keys[first:]
	defer func() { w.keys = w.keys[:first] }()
	s := &w.s
	s.i++
	for {
		s.space()
		if s.b[s.i] == '}' {
			s.i++
			return true
		}
		if s.b[s.i] == ',' {
			s.i++
			s.space()
		}
		k, _, _ := s.str()
		if len(w.keys)-first == maxRawKeys || bytes.IndexByte(k, ':') >= 0 {
			return false
		}
		for _, c := range k {
			if c >= 0x80 {
				return false
			}
		}
		for _, prev := range w.keys[first:] {
			if bytes.EqualFold(prev, k) {
				return false
			}
		}
		w.keys = append(w.keys, k)
		s.space()
		s.i++ // ':'
		s.space()
		switch {
		case !top:
			if !w.value(k) {
				return false
			}
		case string(k) == "params":
			if !w.value(nil) {
				return false
			}
		default:
			if !s.value(0) {
				return false
			}
		}
	}
}

// value walks the value at s.i, under key.
func (w *rawWalk) value(key []byte) bool {
	s := &w.s
	s.space()
	switch s.b[s.i] {
	case '{':
		return w.object(key, false)
	case '[':
		s.i++
		for {
			s.space()
			switch s.b[s.i] {
			case ']':
				s.i++
				return true
			case ',':
				s.i++
			}
			if !w.value(key) {
				return false
			}
		}
	case '"':
		start := s.i
		v, _, _ := s.str()
		k := string(key)
		if !uriKey(k) && (textKey(k) || !hasScheme(string(v), "file")) {
			return true
		}
		u, ok := w.rw.processURI(v)
		if !ok {
			return false
		}
		if u == string(v) {
			return true
		}
		for _, c := range []byte(u) {
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				return false
			}
		}
		w.out = append(append(append(append(w.out, s.b[w.last:start]...), '"'), u...), '"')
		w.last = s.i
		return true
	}
	return s.value(0)
}

// maxURICache bounds rewriter.uris; when full it starts again.
const maxURICache = 256

// processURI is paths.ToProcessURI of a client URI, remembered: the same
// few documents are named by request after request. ok is false for a URI
// it refuses (not remembered).
func (rw *rewriter) processURI(client []byte) (string, bool) {
	rw.urisMu.Lock()
	u, ok := rw.uris[string(client)]
	rw.urisMu.Unlock()
	if ok {
		return u, true
	}
	c := string(client)
	u, err := rw.paths.ToProcessURI(c)
	if err != nil {
		return "", false
	}
	rw.urisMu.Lock()
	if len(rw.uris) >= maxURICache || rw.uris == nil {
		rw.uris = make(map[string]string)
	}
	rw.uris[c] = u
	rw.urisMu.Unlock()
	return u, true
}
