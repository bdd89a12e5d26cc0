package dap_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/dap"
)

func TestFrameReader(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	for _, m := range []string{`{"a":1}`, `{}`, strings.Repeat("x", 70000)} {
		if err := dap.WriteFrame(&buf, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	r := dap.NewFrameReader(&buf, 1<<20)
	for _, want := range []int{7, 2, 70000} {
		m, err := r.Read()
		if err != nil || len(m) != want {
			t.Fatalf("Read = %d bytes, %v; want %d", len(m), err, want)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("at end: %v, want EOF", err)
	}
	for _, tc := range []struct{ name, in string }{
		{"no length", "Content-Type: x\r\n\r\n{}"},
		{"negative", "Content-Length: -1\r\n\r\n"},
		{"non-numeric", "Content-Length: abc\r\n\r\n"},
		{"huge", "Content-Length: 99999999999\r\n\r\n"},
		{"too large", "Content-Length: 2000000\r\n\r\n"},
		{"long header", "X: " + strings.Repeat("a", 9000) + "\r\n"},
		{"many headers", strings.Repeat("X: y\r\n", 100)},
		{"no colon", "garbage\r\n\r\n"},
	} {
		_, err := dap.NewFrameReader(strings.NewReader(tc.in), 1<<20).Read()
		if !errors.Is(err, dap.ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", tc.name, err)
		}
	}
	if _, err := dap.NewFrameReader(strings.NewReader("Content-Length: 10\r\n\r\n{}"), 0).Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v", err)
	}
}

// FuzzFrame: any bytes give messages or an error, never a panic, and no
// message larger than the limit.
func FuzzFrame(f *testing.F) {
	f.Add([]byte("Content-Length: 2\r\n\r\n{}"))
	f.Add([]byte("Content-Length: 99999999999\r\n\r\n"))
	f.Add([]byte("Content-Length: 5\n\n{}"))
	f.Add([]byte("content-length:3\r\nX: y\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := dap.NewFrameReader(bytes.NewReader(b), 1024)
		for range 100 {
			m, err := r.Read()
			if err != nil {
				return
			}
			if len(m) > 1024 {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
		}
	})
}
