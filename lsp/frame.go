package lsp

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrFrame is wrapped by errors for malformed Content-Length framing from
// gopls (LSP-08): a missing, negative, non-numeric or oversized length, an
// overlong header line or block.
var ErrFrame = errors.New("bad LSP frame")

// Header limits: a line longer than maxHeaderLine or a header block longer
// than maxHeaderBlock is refused before anything is allocated for the body.
const (
	maxHeaderLine  = 8 << 10
	maxHeaderBlock = 64 << 10
)

// ReadFrame reads one Content-Length framed message body of at most max
// bytes. Any input gives a body or an error, never a panic; the body is
// allocated only after its length has been checked against max.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	length := -1
	block := 0
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		block += len(line)
		if block > maxHeaderBlock {
			return nil, fmt.Errorf("%w: header block over %d bytes", ErrFrame, maxHeaderBlock)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if length < 0 && block <= 2 {
				continue // tolerate blank lines between messages
			}
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: header line without colon", ErrFrame)
		}
		if !strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			continue // Content-Type and others are ignored
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad Content-Length", ErrFrame)
		}
		if n > int64(max) {
			return nil, fmt.Errorf("%w: Content-Length %d over the limit of %d", ErrFrame, n, max)
		}
		length = int(n)
	}
	if length < 0 {
		return nil, fmt.Errorf("%w: no Content-Length", ErrFrame)
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

// readLine reads up to and including '\n', refusing lines over
// maxHeaderLine.
func readLine(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, err := r.ReadSlice('\n')
		if sb.Len()+len(chunk) > maxHeaderLine {
			return "", fmt.Errorf("%w: header line over %d bytes", ErrFrame, maxHeaderLine)
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

// WriteFrame writes body with a Content-Length header.
func WriteFrame(w io.Writer, body []byte) error {
	if _, err := fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body)); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// frameCodec is a jsonrpc2.ObjectCodec for gopls's stdio with the limits
// of ReadFrame. ReadObject needs a *json.RawMessage; WriteObject takes a
// json.RawMessage, []byte or any value to marshal.
type frameCodec struct{ max int }

func (c frameCodec) WriteObject(w io.Writer, obj any) error {
	var body []byte
	switch x := obj.(type) {
	case json.RawMessage:
		body = x
	case []byte:
		body = x
	default:
		b, err := encode(obj)
		if err != nil {
			return err
		}
		body = b
	}
	return WriteFrame(w, body)
}

func (c frameCodec) ReadObject(r *bufio.Reader, v any) error {
	p, ok := v.(*json.RawMessage)
	if !ok {
		return fmt.Errorf("frame codec: read into %T, want *json.RawMessage", v)
	}
	body, err := ReadFrame(r, c.max)
	if err != nil {
		return err
	}
	*p = body
	return nil
}
