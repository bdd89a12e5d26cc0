package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/server"
)

func (h *harness) watchPath(workspaceID string) string {
	return "/api/v1/workspaces/" + workspaceID + "/watch"
}

// TestWebSocketOrigin is WS-01..WS-05 on the watch socket. The origin
// policy normalises case and default ports and compares scheme, host and
// port exactly (auth.OriginPolicy's documented contract), so an uppercase
// spelling of an allowed origin is the same origin and is accepted.
func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.login(h.tokA)
	cookie := (&http.Cookie{Name: c.Name, Value: c.Value}).String()
	port := h.host[strings.LastIndexByte(h.host, ':')+1:]
	p, _ := strconv.Atoi(port)
	wrongPort := "http://127.0.0.1:" + strconv.Itoa(p%65535+1)

	tests := []struct {
		name string
		hdr  http.Header
		want int // 101 or the refusal status
	}{
		{"WS-01 evil origin with cookie", hdr("Origin", "https://evil.example", "Cookie", cookie), 403},
		{"WS-01 evil origin with bearer", hdr("Origin", "https://evil.example", "Authorization", "Bearer "+h.tokA), 403},
		{"WS-02 no origin with cookie", hdr("Cookie", cookie), 403},
		{"no origin with bearer", hdr("Authorization", "Bearer "+h.tokA), 101},
		{"own origin with cookie", hdr("Origin", h.origin, "Cookie", cookie), 101},
		{"WS-03 suffix host", hdr("Origin", h.origin+".evil.com", "Cookie", cookie), 403},
		{"WS-03 prefix host", hdr("Origin", "http://evil-"+h.host, "Cookie", cookie), 403},
		{"WS-03 wrong port", hdr("Origin", wrongPort, "Cookie", cookie), 403},
		{"WS-03 no port", hdr("Origin", "http://127.0.0.1", "Cookie", cookie), 403},
		{"WS-03 scheme mismatch", hdr("Origin", "https://"+h.host, "Cookie", cookie), 403},
		{"WS-03 null", hdr("Origin", "null", "Cookie", cookie), 403},
		{"WS-03 origin with path", hdr("Origin", h.origin+"/ide", "Cookie", cookie), 403},
		{"WS-03 origin with trailing slash", hdr("Origin", h.origin+"/", "Cookie", cookie), 403},
		{"WS-03 userinfo", hdr("Origin", "http://user@"+h.host, "Cookie", cookie), 403},
		{"WS-03 two origins", hdr("Origin", h.origin, "Origin", "https://evil.example", "Cookie", cookie), 403},
		{"WS-03 uppercase own origin (normalised, same origin)", hdr("Origin", "HTTP://"+h.host, "Cookie", cookie), 101},
		{"WS-03 portal suffix", hdr("Origin", portal+".evil.com", "Cookie", cookie), 403},
		{"WS-03 portal over http", hdr("Origin", "http://portal.example", "Cookie", cookie), 403},
		{"portal origin", hdr("Origin", portal, "Cookie", cookie), 101},
		{"portal origin uppercase", hdr("Origin", "HTTPS://PORTAL.EXAMPLE", "Cookie", cookie), 101},
		{"portal origin cross-site (embedding)", hdr("Origin", portal, "Sec-Fetch-Site", "cross-site", "Cookie", cookie), 101},
		{"WS-04 DNS rebinding with cookie", hdr("Host", "evil.com", "Origin", "http://evil.com", "Cookie", cookie), 403},
		{"WS-04 DNS rebinding with bearer", hdr("Host", "evil.com", "Origin", "http://evil.com", "Authorization", "Bearer "+h.tokA), 403},
		{"WS-04 foreign host without origin", hdr("Host", "evil.com", "Authorization", "Bearer "+h.tokA), 403},
		{"WS-05 cross-site fetch with own origin", hdr("Origin", h.origin, "Sec-Fetch-Site", "cross-site", "Cookie", cookie), 403},
		{"WS-05 cross-site fetch without origin", hdr("Sec-Fetch-Site", "cross-site", "Authorization", "Bearer "+h.tokA), 403},
		{"same-origin fetch", hdr("Origin", h.origin, "Sec-Fetch-Site", "same-origin", "Cookie", cookie), 101},
	}
	path := h.watchPath(h.wsA)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.waitNoSockets()
			conn, r := h.dial(path, tc.hdr, nil)
			if tc.want == http.StatusSwitchingProtocols {
				if conn == nil {
					t.Fatalf("got %s, want 101", r)
				}
				_ = conn.Close()
				return
			}
			if conn != nil {
				_ = conn.Close()
				t.Fatalf("handshake accepted, want %d", tc.want)
			}
			wantError(t, "refused handshake", r, tc.want, "")
			if open, reserved := h.srv.SocketCounts(); open != 0 || reserved != 0 {
				t.Errorf("refused handshake left open=%d reserved=%d", open, reserved)
			}
			if g := h.gauge("ideserver_websockets"); g != 0 {
				t.Errorf("ideserver_websockets = %v after a refused handshake", g)
			}
		})
	}
}

// TestWebSocketLimits covers WS-06 (1009 on oversized messages) and WS-07
// (no permessage-deflate).
func TestWebSocketLimits(t *testing.T) {
	t.Parallel()
	const limit = 4 << 10
	h := newHarness(t, func(o *server.Options) { o.Limits.MaxWSMessage = limit })
	auth := hdr("Authorization", "Bearer "+h.tokA)

	t.Run("WS-07 no compression", func(t *testing.T) {
		conn, r := h.dial(h.watchPath(h.wsA), auth, &websocket.Dialer{EnableCompression: true, HandshakeTimeout: waitShort})
		if conn == nil {
			t.Fatalf("dial: %s", r)
		}
		defer conn.Close()
		if ext := r.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
			t.Errorf("server negotiated extensions %q, want none", ext)
		}
	})

	for _, tc := range []struct {
		name     string
		typ      int
		writeBuf int // client write buffer: bigger than the message is one frame
	}{
		{"text single frame", websocket.TextMessage, 64 << 10},
		{"binary single frame", websocket.BinaryMessage, 64 << 10},
		{"text fragmented", websocket.TextMessage, 1 << 10},
	} {
		t.Run("WS-06 "+tc.name, func(t *testing.T) {
			conn, r := h.dial(h.watchPath(h.wsA), auth, &websocket.Dialer{WriteBufferSize: tc.writeBuf, HandshakeTimeout: waitShort})
			if conn == nil {
				t.Fatalf("dial: %s", r)
			}
			rd := readAll(t, conn)
			msg := bytes.Repeat([]byte("x"), limit+1)
			if err := conn.WriteMessage(tc.typ, msg); err != nil {
				t.Fatalf("write: %v", err)
			}
			err := rd.closed(t)
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
				t.Errorf("connection ended with %v, want close 1009", err)
			}
		})
	}

	t.Run("message at the limit is fine", func(t *testing.T) {
		conn, r := h.dial(h.watchPath(h.wsA), auth, &websocket.Dialer{WriteBufferSize: 64 << 10, HandshakeTimeout: waitShort})
		if conn == nil {
			t.Fatalf("dial: %s", r)
		}
		if err := conn.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), limit)); err != nil {
			t.Fatal(err)
		}
		// The socket stays usable: a ping is answered with a pong.
		pong := make(chan struct{}, 1)
		conn.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
		rd := readAll(t, conn)
		if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(waitShort)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-pong:
		case <-rd.done:
			t.Fatalf("socket closed after a message at the limit: %v", rd.err)
		case <-time.After(waitShort):
			t.Fatal("no pong")
		}
	})
	// Each subtest closed its socket when it ended: nothing stays open.
	h.waitNoSockets()
}

// TestWebSocketHalfOpen is WS-10: a peer that never answers pings is
// dropped and its slot freed; a peer that answers stays.
func TestWebSocketHalfOpen(t *testing.T) {
	t.Parallel()
	const ping = 100 * time.Millisecond
	h := newHarness(t, func(o *server.Options) { o.PingInterval = ping })
	auth := hdr("Authorization", "Bearer "+h.tokA)

	// A live peer: answers pings. It must survive well past the pong wait
	// (2.5 intervals); count pings instead of sleeping.
	live, r := h.dial(h.watchPath(h.wsA), auth, nil)
	if live == nil {
		t.Fatalf("dial: %s", r)
	}
	var pings atomic.Int32
	live.SetPingHandler(func(data string) error {
		pings.Add(1)
		return live.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitShort))
	})
	liveRd := readAll(t, live)

	// A vanished peer: never reads, so never answers a ping.
	start := time.Now()
	dead, r := h.dial(h.watchPath(h.wsA), auth, nil)
	if dead == nil {
		t.Fatalf("dial: %s", r)
	}
	waitFor(t, "the silent peer to be dropped", func() bool {
		open, reserved := h.srv.SocketCounts()
		return open == 1 && reserved == 1 && h.gauge("ideserver_websockets") == 1
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("silent peer dropped after %v, want about 2.5 ping intervals", d)
	}
	waitFor(t, "6 pings to the live peer", func() bool { return pings.Load() >= 6 })
	select {
	case <-liveRd.done:
		t.Fatalf("the peer that answers pings was dropped: %v", liveRd.err)
	default:
	}
	if open, _ := h.srv.SocketCounts(); open != 1 {
		t.Errorf("open sockets = %d, want the live one", open)
	}
	_ = dead.Close()
	_ = live.Close()
	h.waitNoSockets()
}

// TestWebSocketPerUserLimit is WS-12.
func TestWebSocketPerUserLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *server.Options) { o.Limits.MaxWebSockets = 2 })
	a := hdr("Authorization", "Bearer "+h.tokA)
	path := h.watchPath(h.wsA)

	first, r := h.dial(path, a, nil)
	if first == nil {
		t.Fatalf("first: %s", r)
	}
	second, r := h.dial(path, a, nil)
	if second == nil {
		t.Fatalf("second: %s", r)
	}
	_, r = h.dial(path, a, nil)
	wantError(t, "third socket of a1", r, http.StatusTooManyRequests, "too_many_connections")
	if _, reserved := h.srv.SocketCounts(); reserved != 2 {
		t.Errorf("after the refused third: %d slots reserved, want 2", reserved)
	}
	// The client may see the 101 before the server registers the socket.
	waitFor(t, "two registered sockets", func() bool {
		open, reserved := h.srv.SocketCounts()
		return open == 2 && reserved == 2
	})

	other, r := h.dial(h.watchPath(h.wsB), hdr("Authorization", "Bearer "+h.tokB), nil)
	if other == nil {
		t.Fatalf("another user is limited by a1's sockets: %s", r)
	}

	_ = first.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = first.Close()
	waitFor(t, "a1's closed slot to be freed", func() bool {
		_, reserved := h.srv.SocketCounts()
		return reserved == 2
	})
	again, r := h.dial(path, a, nil)
	if again == nil {
		t.Fatalf("after closing one, a new socket is refused: %s", r)
	}
	_ = again.Close()
	_ = second.Close()
	_ = other.Close()
	h.waitNoSockets()
}

type watchEvent struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// waitEvent reads frames until one equals want; other events are skipped.
func waitEvent(t *testing.T, rd *wsReader, want watchEvent) {
	t.Helper()
	deadline := time.After(waitShort)
	for {
		select {
		case m := <-rd.msgs:
			if m.typ != websocket.TextMessage {
				t.Fatalf("watch sent a frame of type %d, want text", m.typ)
			}
			var ev watchEvent
			dec := json.NewDecoder(bytes.NewReader(m.data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("watch frame %q: %v", m.data, err)
			}
			if ev == want {
				return
			}
			t.Logf("skipping event %+v", ev)
		case <-rd.done:
			t.Fatalf("watch ended before %+v: %v", want, rd.err)
		case <-deadline:
			t.Fatalf("no %+v within %v", want, waitShort)
		}
	}
}

// syncWatch waits until the server's subscription is live: the handshake
// answers before the watch is set up, so probe writes are repeated until
// one is reported.
func syncWatch(t *testing.T, rd *wsReader, dir string) {
	t.Helper()
	deadline := time.Now().Add(waitShort)
	for i := 0; ; i++ {
		if err := os.WriteFile(filepath.Join(dir, "probe-"+strconv.Itoa(i)), []byte("p"), 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case <-rd.msgs:
			return
		case <-rd.done:
			t.Fatalf("watch ended while syncing: %v", rd.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("watch reports nothing")
		}
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	conn, r := h.dial(h.watchPath(h.wsA), hdr("Authorization", "Bearer "+h.tokA), nil)
	if conn == nil {
		t.Fatalf("dial: %s", r)
	}
	rd := readAll(t, conn)
	dir := h.wsDir(h.wsA)
	syncWatch(t, rd, dir)

	wantStatus(t, "PUT x.go", h.do("PUT", "/api/v1/workspaces/"+h.wsA+"/files/x.go", []byte("package x\n"), bearer(h.tokA)), http.StatusOK)
	waitEvent(t, rd, watchEvent{"created", "x.go"})

	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte("package x // edited in a shell\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, rd, watchEvent{"changed", "x.go"})

	wantStatus(t, "DELETE x.go", h.do("DELETE", "/api/v1/workspaces/"+h.wsA+"/files/x.go", nil, bearer(h.tokA)), http.StatusNoContent)
	waitEvent(t, rd, watchEvent{"deleted", "x.go"})

	// Tenant B's watch sees nothing of A.
	connB, r := h.dial(h.watchPath(h.wsB), hdr("Authorization", "Bearer "+h.tokB), nil)
	if connB == nil {
		t.Fatalf("dial B: %s", r)
	}
	rdB := readAll(t, connB)
	syncWatch(t, rdB, h.wsDir(h.wsB))

	wantStatus(t, "DELETE workspace", h.do("DELETE", "/api/v1/workspaces/"+h.wsA, nil, bearer(h.tokA)), http.StatusNoContent)
	err := rd.closed(t)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("watch of a deleted workspace ended with %v, want close 1000", err)
	}
	for {
		select {
		case m := <-rdB.msgs:
			if bytes.Contains(m.data, []byte("x.go")) {
				t.Errorf("tenant B saw A's event %s", m.data)
			}
			continue
		default:
		}
		break
	}
	select {
	case <-rdB.done:
		t.Errorf("B's watch ended with A's workspace: %v", rdB.err)
	default:
	}
	_ = connB.Close()
	h.waitNoSockets()
}
