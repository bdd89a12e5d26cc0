package bridge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
