package bridge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
)

// serve starts a WebSocket server whose handler gets a Conn, and returns a
// gorilla client connected to it.
func serve(t *testing.T, handle func(c *bridge.Conn)) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := bridge.NewConn(ws, 0)
		handle(c)
		c.Stop(nil)
	}))
	t.Cleanup(srv.Close)
	cl, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func closeOf(t *testing.T, cl *websocket.Conn) *websocket.CloseError {
	t.Helper()
	for {
		_, _, err := cl.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		if err != nil {
			t.Fatalf("read: %v, want a close frame", err)
		}
	}
}

func TestConnEcho(t *testing.T) {
	cl := serve(t, func(c *bridge.Conn) {
		for {
			binary, data, err := c.Read()
			if err != nil {
				return
			}
			if err := c.Write(binary, data); err != nil {
				return
			}
		}
	})
	for _, m := range []struct {
		typ  int
		data string
	}{{websocket.TextMessage, "hello"}, {websocket.BinaryMessage, "\x00\x01"}} {
		if err := cl.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := cl.ReadMessage()
		if err != nil || typ != m.typ || string(data) != m.data {
			t.Fatalf("echo = %d %q %v", typ, data, err)
		}
	}
}

// ReadInto reads messages into the caller's buffer, growing it for a
// large one and reusing it for the next, and keeps the read limit.
func TestConnReadInto(t *testing.T) {
	type got struct {
		binary bool
		data   string
		reused bool
		err    error
	}
	res := make(chan got, 8)
	cl := serve(t, func(c *bridge.Conn) {
		c.Underlying().SetReadLimit(1 << 20)
		buf := make([]byte, 0, 64)
		for {
			binary, data, err := c.ReadInto(buf)
			if err != nil {
				res <- got{err: err}
				return
			}
			res <- got{binary, string(data), len(data) > 0 && &data[0] == &buf[:1][0], nil}
			buf = data
		}
	})
	big := strings.Repeat("0123456789", 10_000)
	for i, m := range []struct {
		typ    int
		data   string
		reused bool
	}{
		{websocket.BinaryMessage, "ls\n", true},
		{websocket.BinaryMessage, big, false}, // grows past 64 bytes
		{websocket.TextMessage, `{"type":"resize"}`, true},
		{websocket.BinaryMessage, "", false},
	} {
		if err := cl.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		g := <-res
		if g.err != nil || g.binary != (m.typ == websocket.BinaryMessage) || g.data != m.data || g.reused != m.reused {
			t.Fatalf("message %d: binary %v, %d bytes, reused %v, err %v; want %d %d bytes reused %v",
				i, g.binary, len(g.data), g.reused, g.err, m.typ, len(m.data), m.reused)
		}
	}
	if err := cl.WriteMessage(websocket.BinaryMessage, make([]byte, 1<<20+1)); err != nil {
		t.Fatal(err)
	}
	if g := <-res; !errors.Is(g.err, websocket.ErrReadLimit) {
		t.Fatalf("oversized message: err %v, want the read limit", g.err)
	}
}

// WriteFrom sends what a reader gives, however it is split, as one
// message of the given type, then the connection goes on as before.
func TestConnWriteFrom(t *testing.T) {
	big := strings.Repeat("abcdefgh", 40_000) // more than the write buffer
	cl := serve(t, func(c *bridge.Conn) {
		if err := c.WriteFrom(true, iotest.HalfReader(strings.NewReader(big))); err != nil {
			t.Error(err)
		}
		if err := c.WriteFrom(false, iotest.DataErrReader(strings.NewReader("{}"))); err != nil {
			t.Error(err)
		}
		if err := c.WriteFrom(true, strings.NewReader("")); err != nil {
			t.Error(err)
		}
		if err := c.WriteText([]byte("after")); err != nil {
			t.Error(err)
		}
	})
	for i, want := range []struct {
		typ  int
		data string
	}{{websocket.BinaryMessage, big}, {websocket.TextMessage, "{}"}, {websocket.BinaryMessage, ""}, {websocket.TextMessage, "after"}} {
		typ, data, err := cl.ReadMessage()
		if err != nil || typ != want.typ || string(data) != want.data {
			t.Fatalf("message %d: type %d, %d bytes, err %v; want type %d, %d bytes", i, typ, len(data), err, want.typ, len(want.data))
		}
	}
}

// A binary frame where a protocol has text only closes with 1003 (LSP, DAP).
func TestConnReadTextRefusesBinary(t *testing.T) {
	cl := serve(t, func(c *bridge.Conn) {
		_, err := c.ReadText()
		c.CloseWith(bridge.CloseCode(err))
	})
	_ = cl.WriteMessage(websocket.BinaryMessage, []byte("{}"))
	if ce := closeOf(t, cl); ce.Code != bridge.CloseUnsupportedData {
		t.Fatalf("close = %d %q, want 1003", ce.Code, ce.Text)
	}
}

// The first close wins: a later Stop does not change the code.
func TestConnFirstCloseWins(t *testing.T) {
	cl := serve(t, func(c *bridge.Conn) {
		c.CloseWith(bridge.CloseTryAgainLater, "gopls unavailable")
		c.Stop(bridge.ErrShuttingDown)
		select {
		case <-c.Done():
		default:
			t.Error("Done not closed after CloseWith")
		}
	})
	if ce := closeOf(t, cl); ce.Code != bridge.CloseTryAgainLater || ce.Text != "gopls unavailable" {
		t.Fatalf("close = %d %q, want 1013", ce.Code, ce.Text)
	}
}

func TestCloseCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, bridge.CloseNormal},
		{&websocket.CloseError{Code: websocket.CloseGoingAway}, bridge.CloseNormal},
		{bridge.Closing(bridge.ClosePolicyViolation, "message rate exceeded", nil), bridge.ClosePolicyViolation},
		{errors.Join(io.EOF, bridge.Closing(bridge.CloseInvalidPayload, "malformed", nil)), bridge.CloseInvalidPayload},
		{websocket.ErrReadLimit, bridge.CloseTooBig},
		{context.Canceled, bridge.CloseGoingAway},
		{bridge.ErrWorkspaceStopped, bridge.CloseGoingAway},
		{io.ErrUnexpectedEOF, bridge.CloseInternal},
	} {
		if code, _ := bridge.CloseCode(tc.err); code != tc.code {
			t.Errorf("CloseCode(%v) = %d, want %d", tc.err, code, tc.code)
		}
	}
}
