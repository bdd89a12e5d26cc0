package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/terminal"
	"github.com/ideserver/ideserver/workspace"
)

// rawUpgrade opens a TCP connection to the server and upgrades path with a
// hand-written handshake (bearer tok), so the test can then write frames
// that no WebSocket library would produce.
func (h *harness) rawUpgrade(t *testing.T, path, tok string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", h.host, waitShort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitShort))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n", path, h.host, tok)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade %s: %s", path, resp.Status)
	}
	return conn, br
}

// masked builds a client frame: header byte b0, then the payload length
// encoding given in lenBytes (already including the mask bit), a zero
// mask key and payload.
func frame(b0 byte, lenBytes []byte, payload []byte) []byte {
	out := append([]byte{b0}, lenBytes...)
	out = append(out, 0, 0, 0, 0) // mask key 0: payload unchanged
	return append(out, payload...)
}

// TestWebSocketMalformedFrames is WS-08: frames that break RFC 6455
// (reserved bits, an unmasked client frame, a control frame over 125
// bytes or fragmented, a 64-bit length with the top bit set, a length far
// above the limit) get a close frame with a protocol or size code and an
// ended connection, never a hang or a loop; the server keeps serving.
func TestWebSocketMalformedFrames(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := h.watchPath(h.wsA)
	huge := make([]byte, 8)
	binary.BigEndian.PutUint64(huge, 1<<63|5) // negative as int64
	big := make([]byte, 8)
	binary.BigEndian.PutUint64(big, 1<<40) // a terabyte
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"reserved bit RSV1 without an extension", frame(0x80|0x40|0x1, []byte{0x80 | 2}, []byte("hi"))},
		{"reserved bits RSV2 and RSV3", frame(0x80|0x30|0x2, []byte{0x80 | 2}, []byte("hi"))},
		{"unknown opcode", frame(0x80|0x3, []byte{0x80 | 2}, []byte("hi"))},
		{"unmasked client frame", append([]byte{0x81, 0x02}, "hi"...)},
		{"ping longer than 125 bytes", frame(0x80|0x9, []byte{0x80 | 126, 0, 126}, make([]byte, 126))},
		{"fragmented ping", frame(0x9, []byte{0x80 | 1}, []byte("x"))},
		{"continuation without a start", frame(0x80|0x0, []byte{0x80 | 1}, []byte("x"))},
		{"64-bit length with the top bit set", frame(0x82, append([]byte{0x80 | 127}, huge...), nil)},
		{"length of a terabyte", frame(0x82, append([]byte{0x80 | 127}, big...), nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := h.rawUpgrade(t, path, h.tokA)
			if _, err := conn.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			// The first frame back is a close with 1002 or 1009.
			hdr := make([]byte, 2)
			if _, err := io.ReadFull(br, hdr); err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if op := hdr[0] & 0x0f; op != 0x8 {
				t.Fatalf("first frame has opcode %#x, want close", op)
			}
			body := make([]byte, hdr[1]&0x7f)
			if _, err := io.ReadFull(br, body); err != nil || len(body) < 2 {
				t.Fatalf("close frame body %q: %v", body, err)
			}
			code := binary.BigEndian.Uint16(body)
			if code != websocket.CloseProtocolError && code != websocket.CloseMessageTooBig {
				t.Errorf("close code %d %q, want 1002 or 1009", code, body[2:])
			}
			// Then the server ends the connection (no loop).
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("connection not ended: %v (read %d bytes)", err, len(rest))
			}
		})
	}
	h.waitNoSockets()
	wantStatus(t, "still serving", h.me(bearer(h.tokA)), http.StatusOK)
	conn, r := h.dial(path, hdr("Authorization", "Bearer "+h.tokA), nil)
	if conn == nil {
		t.Fatalf("dial after malformed frames: %s", r)
	}
	_ = conn.Close()
	h.waitNoSockets()
}

// floodCmd writes output without end, about 20 MB/s: enough to fill any
// socket buffer within a second, without taking a core.
var floodCmd = []string{"sh", "-c", "while :; do head -c 1048576 /dev/zero; sleep 0.05; done"}

// TestWebSocketSlowReader is WS-09: a client that stops reading while its
// terminal floods output does not make the server queue that output: the
// writer blocks, the write deadline drops the connection, what was written
// stays within the kernel's socket buffers, and other users are served
// meanwhile.
func TestWebSocketSlowReader(t *testing.T) {
	t.Parallel()
	var m *terminal.Manager
	h := newHarness(t, func(o *server.Options) {
		m = newTerminals(t, o)
		o.Terminals = m
	})
	wh, err := h.mgr.Open(workspace.Owner{Tenant: "a", User: "a1"}, h.wsA)
	if err != nil {
		t.Fatal(err)
	}
	info, err := m.Create(context.Background(), wh, terminal.CreateOptions{Command: floodCmd})
	if err != nil {
		t.Fatal(err)
	}
	term, err := m.Get(wh, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, r := h.dial("/api/v1/workspaces/"+h.wsA+"/terminals/"+info.ID+"/attach", hdr("Authorization", "Bearer "+h.tokA), nil)
	if conn == nil {
		t.Fatalf("dial: %s", r)
	}
	// The client never reads. Others are served while the flood stalls.
	waitFor(t, "the attachment to start", func() bool { return term.Info().Clients == 1 })
	wantStatus(t, "another user meanwhile", h.me(bearer(h.tokB)), http.StatusOK)
	// The write deadline (10s) ends the attachment; the bound only
	// catches a server that never drops the reader.
	deadline := time.Now().Add(60 * time.Second)
	for term.Info().Clients != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server still writes to a client that stopped reading")
		}
		time.Sleep(50 * time.Millisecond) // polling the attachment count
	}
	// Bounded: what the server wrote fit in the socket buffers, it did
	// not pile up in memory. The client reads it now, up to the end of
	// the connection.
	nc := conn.UnderlyingConn()
	_ = nc.SetReadDeadline(time.Now().Add(waitShort))
	n, err := io.Copy(io.Discard, nc)
	t.Logf("the flood ended; the client had %d bytes waiting (%v)", n, err)
	if n > 64<<20 {
		t.Errorf("the server wrote %d MiB to a client that reads nothing", n>>20)
	}
	_ = conn.Close()
	h.waitNoSockets()
	if err := m.Delete(context.Background(), wh, info.ID); err != nil {
		t.Fatal(err)
	}
}

// chattyLSP answers each request with many messages from several
// goroutines at once, as gopls's notifications and replies do.
type chattyLSP struct{ writers, each int }

func (c chattyLSP) Serve(ctx context.Context, _ *workspace.Handle, client *bridge.Conn) error {
	if _, err := client.ReadText(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, c.writers)
	for w := range c.writers {
		wg.Go(func() {
			for i := range c.each {
				msg := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"n","params":{"w":%d,"i":%d,"pad":%q}}`, w, i, strings.Repeat("p", 512))
				if err := client.WriteText(msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	_, err := client.ReadText() // until the client leaves
	return err
}

// TestWebSocketConcurrentWriters is WS-11: many goroutines write to one
// socket at once while the server pings it; under -race this finds a
// missing write lock, and gorilla panics on concurrent writes without
// one. Every message arrives whole.
func TestWebSocketConcurrentWriters(t *testing.T) {
	t.Parallel()
	const writers, each = 8, 200
	h := newHarness(t, func(o *server.Options) {
		o.LSP = chattyLSP{writers, each}
		// Pings (WriteControl, which gorilla allows beside one writer)
		// may interleave; the interval leaves a loaded machine ample
		// time to answer them behind the data.
		o.PingInterval = time.Second
	})
	conn, r := h.dial("/api/v1/workspaces/"+h.wsA+"/lsp", hdr("Authorization", "Bearer "+h.tokA), nil)
	if conn == nil {
		t.Fatalf("dial: %s", r)
	}
	conn.SetPingHandler(func(data string) error {
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitShort))
	})
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"go"}`)); err != nil {
		t.Fatal(err)
	}
	// Read here, not with readAll, which drops messages a test does not
	// take in time. The deadline only bounds a broken server.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	seen := map[[2]int]bool{}
	for range writers * each {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("socket ended after %d messages: %v", len(seen), err)
		}
		var msg struct {
			Params struct{ W, I int } `json:"params"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			t.Fatalf("message %d is not whole JSON: %v", len(seen), err)
		}
		seen[[2]int{msg.Params.W, msg.Params.I}] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct messages, want %d", len(seen), writers*each)
	}
	_ = conn.Close()
	h.waitNoSockets()
}
