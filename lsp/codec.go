package lsp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/ideserver/ideserver/internal/bridge"
)

// frameCodec is a jsonrpc2.ObjectCodec for gopls's stdio with the limits
// of bridge.ReadFrame (LSP-08). ReadObject needs a *json.RawMessage; WriteObject takes a
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
	// w is the stream's bufio.Writer, flushed after this under the
	// stream's lock: the header and body need not be one Write (which
	// bridge.WriteFrame makes at the cost of a copy).
	var header [40]byte
	h := strconv.AppendInt(append(header[:0], "Content-Length: "...), int64(len(body)), 10)
	if _, err := w.Write(append(h, "\r\n\r\n"...)); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

func (c frameCodec) ReadObject(r *bufio.Reader, v any) error {
	p, ok := v.(*json.RawMessage)
	if !ok {
		return fmt.Errorf("frame codec: read into %T, want *json.RawMessage", v)
	}
	body, err := bridge.ReadFrame(r, c.max)
	if err != nil {
		return err
	}
	*p = body
	return nil
}
