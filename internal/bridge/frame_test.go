package bridge_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// FuzzReadFrameAsBefore: ReadFrame, which parses header lines in bufio's
// buffer, reads what the copying version before it read (refReadFrame),
// with the same errors.
func FuzzReadFrameAsBefore(f *testing.F) {
	for _, s := range []string{
		"Content-Length: 2\r\n\r\n{}", "Content-Length: 99999999999\r\n\r\n",
		"Content-Length: 5\n\n{}", "content-length:3\r\nX: y\r\n\r\nabc",
		"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "", "\r\n\r\n",
		"X: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 2\r\n\r\n{}",
		"X: " + strings.Repeat("a", 9000) + "\r\nContent-Length: 2\r\n\r\n{}",
		" Content-Length : 0012 \r\n\r\n{}", "Content-Length: 2", "Content-Length: 2\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r1, r2 := bufio.NewReaderSize(bytes.NewReader(b), 16), bufio.NewReaderSize(bytes.NewReader(b), 16)
		for range 100 {
			m1, err1 := bridge.ReadFrame(r1, 1024)
			m2, err2 := refReadFrame(r2, 1024)
			if !bytes.Equal(m1, m2) || fmt.Sprint(err1) != fmt.Sprint(err2) {
				t.Fatalf("%q: ReadFrame = %q, %v; before %q, %v", b, m1, err1, m2, err2)
			}
			if err1 != nil {
				return
			}
		}
	})
}

// refReadFrame is ReadFrame as it was before it parsed header lines in
// bufio's buffer (with refReadLine, which copied each line).
func refReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	length := int64(-1)
	block := 0
	for lines := 0; ; lines++ {
		if lines >= 32 {
			return nil, fmt.Errorf("%w: more than %d header lines", bridge.ErrFrame, 32)
		}
		line, err := refReadLine(r)
		if err != nil {
			if lines > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		block += len(line)
		if block > (64 << 10) {
			return nil, fmt.Errorf("%w: header block over %d bytes", bridge.ErrFrame, (64 << 10))
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if length < 0 && lines == 0 {
				continue // a blank line between messages
			}
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: header line without colon", bridge.ErrFrame)
		}
		if !strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			continue // Content-Type and others are ignored
		}
		value = strings.TrimSpace(value)
		if value == "" || len(value) > 12 || strings.Trim(value, "0123456789") != "" {
			return nil, fmt.Errorf("%w: bad Content-Length", bridge.ErrFrame)
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bad Content-Length", bridge.ErrFrame)
		}
		if n > int64(max) {
			return nil, fmt.Errorf("%w: Content-Length %d over the limit of %d", bridge.ErrFrame, n, max)
		}
		length = n
	}
	if length < 0 {
		return nil, fmt.Errorf("%w: no Content-Length", bridge.ErrFrame)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// refReadLine reads up to and including a newline, refusing lines over
// (8 << 10).
func refReadLine(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, err := r.ReadSlice('\n')
		if sb.Len()+len(chunk) > (8 << 10) {
			return "", fmt.Errorf("%w: header line over %d bytes", bridge.ErrFrame, (8 << 10))
		}
		sb.Write(chunk)
		switch {
		case err == nil:
			return sb.String(), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && sb.Len() > 0:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}
