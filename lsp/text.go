package lsp

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"go.lsp.dev/protocol"
)

// Position encodings a client and gopls may agree on (LSP 3.17).
const (
	encUTF16 = "utf-16" // the default
	encUTF8  = "utf-8"
	encUTF32 = "utf-32"
)

var errBadChange = errors.New("bad text document change")

// errOpenBytes is returned when open documents would exceed
// Options.MaxOpenBytes.
var errOpenBytes = errors.New("open documents over the size limit")

// document is an open document as the proxy keeps it for replay.
type document struct {
	languageID string
	version    any // as the client sent it
	text       string
}

// applyChanges applies didChange contentChanges to text: a change without
// range replaces the text; one with a range replaces that range, positions
// counted in enc. A text longer than max bytes, after any change, fails
// with errOpenBytes.
func applyChanges(text string, changes []any, enc string, max int) (string, error) {
	for _, c := range changes {
		cm, ok := c.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%w: change is not an object", errBadChange)
		}
		newText, ok := cm["text"].(string)
		if !ok {
			return "", fmt.Errorf("%w: no text", errBadChange)
		}
		r, hasRange := cm["range"]
		if !hasRange || r == nil {
			if len(newText) > max {
				return "", errOpenBytes
			}
			text = newText
			continue
		}
		rng, ok := r.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%w: range is not an object", errBadChange)
		}
		start, err1 := offsetOf(text, rng["start"], enc)
		end, err2 := offsetOf(text, rng["end"], enc)
		if err := errors.Join(err1, err2); err != nil {
			return "", err
		}
		if end < start {
			start, end = end, start
		}
		if len(text)-(end-start)+len(newText) > max {
			return "", errOpenBytes
		}
		text = text[:start] + newText + text[end:]
	}
	return text, nil
}

// offsetOf converts an LSP position to a byte offset in text. A line past
// the end means the end of text; a character past the end of its line means
// the end of the line (as the LSP specification says).
func offsetOf(text string, pos any, enc string) (int, error) {
	pm, ok := pos.(map[string]any)
	if !ok {
		return 0, fmt.Errorf("%w: position is not an object", errBadChange)
	}
	line, err1 := intOf(pm["line"])
	char, err2 := intOf(pm["character"])
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	off := 0
	for ; line > 0; line-- {
		i := indexByteFrom(text, off, '\n')
		if i < 0 {
			return len(text), nil
		}
		off = i + 1
	}
	for char > 0 && off < len(text) && text[off] != '\n' {
		r, size := utf8.DecodeRuneInString(text[off:])
		units := 1
		switch enc {
		case encUTF8:
			units = size
		case encUTF32:
			units = 1
		default:
			if r >= 0x10000 {
				units = 2
			}
		}
		if units > char {
			break // inside a character: stay before it
		}
		char -= units
		off += size
	}
	return off, nil
}

func indexByteFrom(s string, from int, b byte) int {
	for i := from; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

func intOf(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%w: not a number", errBadChange)
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<31 {
		return 0, fmt.Errorf("%w: bad number", errBadChange)
	}
	return int(i), nil
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
