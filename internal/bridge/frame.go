package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrFrame is wrapped by errors for malformed Content-Length framing: a
// missing, negative, non-numeric or oversized length, a header line
// without a colon, an overlong header line, or too many header lines.
//
// The framing is ours because no library this module uses bounds the
// header and the body before allocating: sourcegraph/jsonrpc2's
// VSCodeObjectCodec and go-dap's ReadBaseMessage allocate whatever length
// the peer names.
var ErrFrame = errors.New("bad Content-Length frame")

// Header limits: a line longer than maxHeaderLine, more than
// maxHeaderLines lines or a block longer than maxHeaderBlock is refused
// before anything is allocated for the body.
const (
	maxHeaderLine  = 8 << 10
	maxHeaderLines = 32
	maxHeaderBlock = 64 << 10
)

// ReadFrame reads one Content-Length framed body of at most max bytes. A
// blank line before the header is tolerated (some peers end a message
// with an extra CRLF); headers other than Content-Length are ignored. Any
// input gives a body or an error, never a panic; the body is allocated
// only after its length has been checked against max. A clean end before
// a frame is io.EOF; an end inside one is io.ErrUnexpectedEOF.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	length := int64(-1)
	block := 0
	for lines := 0; ; lines++ {
		if lines >= maxHeaderLines {
			return nil, fmt.Errorf("%w: more than %d header lines", ErrFrame, maxHeaderLines)
		}
		line, err := readLine(r)
		if err != nil {
			if lines > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		block += len(line)
		if block > maxHeaderBlock {
			return nil, fmt.Errorf("%w: header block over %d bytes", ErrFrame, maxHeaderBlock)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if length < 0 && lines == 0 {
				continue // a blank line between messages
			}
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("%w: header line without colon", ErrFrame)
		}
		if !bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			continue // Content-Type and others are ignored
		}
		value = bytes.TrimSpace(value)
		if len(value) == 0 || len(value) > 12 {
			return nil, fmt.Errorf("%w: bad Content-Length", ErrFrame)
		}
		n := int64(0)
		for _, c := range value {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("%w: bad Content-Length", ErrFrame)
			}
			n = n*10 + int64(c-'0')
		}
		if n > int64(max) {
			return nil, fmt.Errorf("%w: Content-Length %d over the limit of %d", ErrFrame, n, max)
		}
		length = n
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
// maxHeaderLine. A line that fits r's buffer is returned from it, without
// a copy: it is valid until the next read from r.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxHeaderLine {
			return nil, fmt.Errorf("%w: header line over %d bytes", ErrFrame, maxHeaderLine)
		}
		if line == nil && err == nil {
			return chunk, nil
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// FrameReader reads Content-Length frames from a stream with ReadFrame's
// rules. It is not safe for concurrent use.
type FrameReader struct {
	r   *bufio.Reader
	max int
}

// DefaultMaxFrame is the body limit of a FrameReader given none.
const DefaultMaxFrame = 16 << 20

// NewFrameReader returns a reader of frames of at most max bytes of body
// (max <= 0 means DefaultMaxFrame).
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Read returns the body of the next frame.
func (f *FrameReader) Read() ([]byte, error) { return ReadFrame(f.r, f.max) }

// WriteFrame writes body with a Content-Length header, in one Write, so
// that frames written by concurrent writers that serialise their Writes
// never interleave.
func WriteFrame(w io.Writer, body []byte) error {
	header := "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	buf := make([]byte, 0, len(header)+len(body))
	buf = append(append(buf, header...), body...)
	_, err := w.Write(buf)
	return err
}
