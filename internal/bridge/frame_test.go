package bridge_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/bridge"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	msgs := []string{`{"a":1}`, `{}`, strings.Repeat("x", 70000)}
	for _, m := range msgs {
		if err := bridge.WriteFrame(&buf, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("\r\n") // a blank line between messages is tolerated
	_ = bridge.WriteFrame(&buf, []byte(`{"b":2}`))
	r := bridge.NewFrameReader(&buf, 1<<20)
	for _, want := range append(msgs, `{"b":2}`) {
		m, err := r.Read()
		if err != nil || string(m) != want {
			t.Fatalf("Read = %d bytes, %v; want %d", len(m), err, len(want))
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("at end: %v, want EOF", err)
	}
}

// LSP-08: malformed or oversized framing from a peer is an error
// wrapping ErrFrame, refused before the body is allocated.
func TestFrameLimits(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"no length", "Content-Type: x\r\n\r\n{}"},
		{"negative", "Content-Length: -1\r\n\r\n"},
		{"plus sign", "Content-Length: +2\r\n\r\n{}"},
		{"non-numeric", "Content-Length: abc\r\n\r\n"},
		{"exponent", "Content-Length: 1e3\r\n\r\n"},
		{"huge", "Content-Length: 99999999999\r\n\r\n"},
		{"too large", "Content-Length: 2000000\r\n\r\n"},
		{"long line", "X: " + strings.Repeat("a", 9<<10) + "\r\nContent-Length: 2\r\n\r\n{}"},
		{"many headers", strings.Repeat("X: y\r\n", 100)},
		{"big block", strings.Repeat("X: "+strings.Repeat("a", 4000)+"\r\n", 20) + "Content-Length: 2\r\n\r\n{}"},
		{"no colon", "garbage\r\n\r\n"},
		{"two blank lines", "\r\n\r\nContent-Length: 2\r\n\r\n{}"},
	} {
		_, err := bridge.ReadFrame(bufio.NewReader(strings.NewReader(tc.in)), 1<<20)
		if !errors.Is(err, bridge.ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", tc.name, err)
		}
	}
	if _, err := bridge.NewFrameReader(strings.NewReader("Content-Length: 10\r\n\r\n{}"), 0).Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v, want ErrUnexpectedEOF", err)
	}
	if _, err := bridge.NewFrameReader(strings.NewReader("Content-Length: 10\r\n"), 0).Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("end in header: %v, want ErrUnexpectedEOF", err)
	}
}

// FuzzReadFrame: any bytes give bodies or an error, never a panic, and no
// body larger than the limit.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"Content-Length: 2\r\n\r\n{}", "Content-Length: 99999999999\r\n\r\n",
		"Content-Length: 5\n\n{}", "content-length:3\r\nX: y\r\n\r\nabc",
		"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bridge.NewFrameReader(bytes.NewReader(b), 1024)
		for range 100 {
			m, err := r.Read()
			if err != nil {
				return
			}
			if len(m) > 1024 {
				t.Fatalf("body of %d bytes over the limit", len(m))
			}
		}
	})
}
