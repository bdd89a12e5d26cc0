package dap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrFrame is returned for a malformed or oversized Content-Length frame.
var ErrFrame = errors.New("dap: malformed frame")

const (
	maxHeaderLine  = 1 << 10 // one header line
	maxHeaderLines = 16      // header lines per frame
)

// FrameReader reads Content-Length framed messages (the DAP base protocol).
// It refuses frames larger than its limit before allocating them. Not safe
// for concurrent use.
type FrameReader struct {
	r     *bufio.Reader
	limit int64
}

// NewFrameReader returns a reader of frames of at most limit bytes of
// content (limit <= 0 means 16 MiB).
func NewFrameReader(r io.Reader, limit int64) *FrameReader {
	if limit <= 0 {
		limit = 16 << 20
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), limit: limit}
}

// Read returns the content of the next frame. Errors wrap ErrFrame for bad
// input, or are the underlying reader's (io.EOF at a clean end).
func (f *FrameReader) Read() ([]byte, error) {
	length := int64(-1)
	for i := 0; ; i++ {
		if i >= maxHeaderLines {
			return nil, fmt.Errorf("%w: too many header lines", ErrFrame)
		}
		line, err := f.readLine()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if line == "" {
			if length < 0 {
				return nil, fmt.Errorf("%w: no Content-Length header", ErrFrame)
			}
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: header line without colon", ErrFrame)
		}
		if !strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			continue // other headers (Content-Type) are allowed and ignored
		}
		value = strings.TrimSpace(value)
		if value == "" || len(value) > 12 || strings.TrimLeft(value, "0123456789") != "" {
			return nil, fmt.Errorf("%w: bad Content-Length", ErrFrame)
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bad Content-Length", ErrFrame)
		}
		if n > f.limit {
			return nil, fmt.Errorf("%w: message of %d bytes is larger than %d", ErrFrame, n, f.limit)
		}
		length = n
	}
	buf := make([]byte, length)
	if _, err := io.ReadFull(f.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// readLine reads one CRLF (or LF) terminated line of at most maxHeaderLine
// bytes, without its terminator.
func (f *FrameReader) readLine() (string, error) {
	var line []byte
	for {
		chunk, err := f.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHeaderLine {
			return "", fmt.Errorf("%w: header line too long", ErrFrame)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	s := strings.TrimSuffix(string(line), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// WriteFrame writes content as one Content-Length frame in a single Write.
func WriteFrame(w io.Writer, content []byte) error {
	header := "Content-Length: " + strconv.Itoa(len(content)) + "\r\n\r\n"
	buf := make([]byte, 0, len(header)+len(content))
	buf = append(append(buf, header...), content...)
	_, err := w.Write(buf)
	return err
}
