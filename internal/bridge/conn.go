package bridge

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultWriteTimeout bounds one write when NewConn is given none.
const DefaultWriteTimeout = 10 * time.Second

// errTextOnly ends a connection whose client sent a binary frame where the
// protocol has text only.
var errTextOnly = Closing(CloseUnsupportedData, "messages are text frames", nil)

// Conn is one WebSocket with the server's rules: one writer at a time
// (gorilla allows no more), a deadline on every write, and a close code
// with a reason, where the first close wins. Read may be called from one
// goroutine only; the other methods are safe for concurrent use.
type Conn struct {
	ws           *websocket.Conn
	writeTimeout time.Duration
	writeMu      sync.Mutex
	once         sync.Once
	done         chan struct{}
}

// NewConn wraps an upgraded WebSocket; writeTimeout <= 0 means
// DefaultWriteTimeout. The caller has set the read limit and the pong
// handler.
func NewConn(ws *websocket.Conn, writeTimeout time.Duration) *Conn {
	if writeTimeout <= 0 {
		writeTimeout = DefaultWriteTimeout
	}
	return &Conn{ws: ws, writeTimeout: writeTimeout, done: make(chan struct{})}
}

// Underlying is the gorilla connection, for the server's read limit and
// pong handling only.
func (c *Conn) Underlying() *websocket.Conn { return c.ws }

// Read returns the next message and whether it was a binary frame.
func (c *Conn) Read() (binary bool, data []byte, err error) {
	typ, data, err := c.ws.ReadMessage()
	return typ == websocket.BinaryMessage, data, err
}

// ReadInto returns the next message like Read, read into buf's storage
// (grown when the message does not fit): data aliases buf and is valid
// until the next call, so a caller that reuses it allocates nothing per
// message. The read limit applies as in Read.
func (c *Conn) ReadInto(buf []byte) (binary bool, data []byte, err error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return false, nil, err
	}
	data = buf[:0]
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return typ == websocket.BinaryMessage, data, nil
		}
		if err != nil {
			return false, nil, err
		}
	}
}

// ReadText returns the next message, which must be a text frame: a binary
// frame is a CloseError with 1003.
func (c *Conn) ReadText() ([]byte, error) {
	binary, data, err := c.Read()
	if err != nil {
		return nil, err
	}
	if binary {
		return nil, errTextOnly
	}
	return data, nil
}

// Write writes one message, binary or text.
func (c *Conn) Write(binary bool, data []byte) error {
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	return c.ws.WriteMessage(typ, data)
}

// WriteFrom writes one message, binary or text, made of what r gives
// until it returns io.EOF (with its last bytes or after them). r's Read
// is handed the connection's write buffer, so the bytes are copied once,
// from wherever r keeps them; a message that fits the buffer goes out as
// one frame in one write, a longer one in fragments of a buffer each.
// r must end (io.EOF) by itself: the writer is held until it does. When
// r fails, the message ends with what r gave and the error is returned.
func (c *Conn) WriteFrom(binary bool, r io.Reader) error {
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	w, err := c.ws.NextWriter(typ)
	if err != nil {
		return err
	}
	// gorilla's message writer is an io.ReaderFrom that reads straight
	// into its buffer (a compressing one is not; io.Copy then copies).
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// WriteText writes one text message.
func (c *Conn) WriteText(data []byte) error { return c.Write(false, data) }

// WriteJSON writes v as one text message.
func (c *Conn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(false, data)
}

// Ping sends a ping control frame.
func (c *Conn) Ping() error {
	return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.writeTimeout))
}

// CloseRead makes a pending and every later Read fail; the connection
// stays open for writes until it is closed.
func (c *Conn) CloseRead() error {
	return c.ws.SetReadDeadline(time.Now())
}

// CloseWith sends a close frame with code and reason, then closes the
// connection. Only the first call (of CloseWith, Close and Stop) has an
// effect.
func (c *Conn) CloseWith(code int, reason string) {
	c.once.Do(func() {
		msg := websocket.FormatCloseMessage(code, reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		_ = c.ws.Close()
		close(c.done)
	})
}

// Close closes with a normal closure.
func (c *Conn) Close() error {
	c.CloseWith(CloseNormal, "")
	return nil
}

// Stop closes with the code and reason CloseCode gives cause; it makes a
// Conn a Session a Registry can keep.
func (c *Conn) Stop(cause error) { c.CloseWith(CloseCode(cause)) }

// Done is closed once the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }
