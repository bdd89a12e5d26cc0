package lsp

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// envelope is what the proxy reads of a message from gopls without
// decoding it: the raw JSON of its top-level "id" and the text of its
// top-level "method".
type envelope struct {
	id        []byte // raw JSON of "id"; nil when absent
	method    []byte // the method's text (it has no escapes); nil when absent
	hasMethod bool
}

// maxScanDepth bounds the nesting scanMessage follows, as encoding/json
// does (10000); deeper messages take the decoding path.
const maxScanDepth = 10000

// scanMessage reads raw in one pass, without allocating: it checks that raw
// is one JSON object (RFC 8259, in valid UTF-8) and returns its envelope.
// risky is set when a string holds an escape sequence (\/, \uXXXX) that
// spells a character for which isRisky is true, or a surrogate, so that
// the decoded text could differ from raw where it matters. ok is false
// for anything else: not JSON, not an object, trailing data, a top-level
// key with escapes, a method that is not a string or has escapes. The
// caller then takes the decoding path, which judges the message itself.
func scanMessage(raw []byte, isRisky func(rune) bool) (env envelope, risky bool, ok bool) {
	if !utf8.Valid(raw) {
		return env, false, false
	}
	// Control characters are white space between tokens or errors in
	// strings; gopls writes none, and then strings need no check.
	s := scanner{b: raw, isRisky: isRisky, control: hasControl(raw)}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return env, false, false
	}
	if !s.object(1, &env) {
		return env, false, false
	}
	s.space()
	if s.i != len(s.b) {
		return env, false, false
	}
	return env, s.risky, true
}

// scanner is scanMessage's state: the input, the position, and whether a
// risky escape was seen.
type scanner struct {
	b       []byte
	i       int
	isRisky func(rune) bool
	risky   bool
	control bool // b holds a control character somewhere
}

func (s *scanner) space() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // gopls writes none
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at s.i (after white space).
func (s *scanner) value(depth int) bool {
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth+1, nil)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return false
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// str scans a string at s.i (at its opening quote) and returns its raw
// content and whether it has escapes.
func (s *scanner) str() (content []byte, escaped bool, ok bool) {
	s.i++
	start := s.i
	for {
		q := bytes.IndexByte(s.b[s.i:], '"')
		if q < 0 {
			return nil, false, false
		}
		span := s.b[s.i : s.i+q]
		if e := bytes.IndexByte(span, '\\'); e >= 0 {
			if s.control && hasControl(span[:e]) {
				return nil, false, false
			}
			s.i += e
			escaped = true
			if !s.escape() {
				return nil, false, false
			}
			continue
		}
		if s.control && hasControl(span) {
			return nil, false, false
		}
		s.i += q + 1
		return s.b[start : s.i-1], escaped, true
	}
}

// hasControl reports whether b holds a control character (below 0x20),
// eight bytes at a time (a word has a byte less than n <= 128 exactly when
// (x - n*ones) &^ x & highs is not zero: "Bit Twiddling Hacks").
func hasControl(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-ones*0x20)&^x&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// escape scans an escape sequence at s.i (at its backslash) and notes
// a risky one.
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	c := s.b[s.i+1]
	s.i += 2
	var r rune
	switch c {
	case '"', '\\', '/':
		r = rune(c)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		if len(s.b)-s.i < 4 {
			return false
		}
		for _, h := range s.b[s.i : s.i+4] {
			var d byte
			switch {
			case '0' <= h && h <= '9':
				d = h - '0'
			case 'a' <= h && h <= 'f':
				d = h - 'a' + 10
			case 'A' <= h && h <= 'F':
				d = h - 'A' + 10
			default:
				return false
			}
			r = r<<4 | rune(d)
		}
		s.i += 4
		if 0xd800 <= r && r < 0xe000 {
			// Half of a pair (or a lone one, decoded as U+FFFD): the
			// decoding path judges it.
			s.risky = true
			return true
		}
	default:
		return false
	}
	if s.isRisky(r) {
		s.risky = true
	}
	return true
}

// object scans an object at s.i (at its '{'); env, when not nil, receives
// its "id" and "method".
func (s *scanner) object(depth int, env *envelope) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, escaped, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		start := s.i
		if !s.value(depth) {
			return false
		}
		if env != nil {
			if escaped {
				return false // a key that might spell "id" or "method"
			}
			switch string(key) {
			case "id":
				env.id = s.b[start:s.i]
			case "method":
				if s.b[start] != '"' {
					return false
				}
				m := s.b[start+1 : s.i-1]
				for _, c := range m {
					if c == '\\' {
						return false
					}
				}
				env.method, env.hasMethod = m, true
			}
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array scans an array at s.i (at its '[').
func (s *scanner) array(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}
