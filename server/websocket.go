package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socket is an upgraded WebSocket with the server's rules applied: a read
// limit (oversized messages close with 1009), compression off (no
// decompression bombs), pings with a pong deadline (a vanished peer is
// noticed), and a write lock (gorilla allows one writer at a time).
type socket struct {
	conn    *websocket.Conn
	writeMu sync.Mutex
	done    chan struct{}
	once    sync.Once
}

// WriteMessage writes one message; safe for concurrent use.
func (c *socket) WriteMessage(messageType int, data []byte, timeout time.Duration) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	return c.conn.WriteMessage(messageType, data)
}

// WriteJSON writes v as one text message; safe for concurrent use.
func (c *socket) WriteJSON(v any, timeout time.Duration) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	return c.conn.WriteJSON(v)
}

// CloseWith sends a close frame with code and reason, then closes the
// connection. Safe to call more than once and concurrently.
func (c *socket) CloseWith(code int, reason string) {
	c.once.Do(func() {
		msg := websocket.FormatCloseMessage(code, reason)
		_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		_ = c.conn.Close()
		close(c.done)
	})
}

// Done is closed once the socket is closed.
func (c *socket) Done() <-chan struct{} { return c.done }

// socketRegistry tracks open sockets for per-user limits and shutdown.
type socketRegistry struct {
	mu      sync.Mutex
	open    map[*socket]struct{}
	perUser map[string]int
	closing bool
	wg      sync.WaitGroup
}

func newSocketRegistry() *socketRegistry {
	return &socketRegistry{open: make(map[*socket]struct{}), perUser: make(map[string]int)}
}

// reserve takes one of user's socket slots; it fails when the user is at
// limit or the server is shutting down.
func (reg *socketRegistry) reserve(user string, limit int) error {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.closing {
		return errorf(http.StatusServiceUnavailable, "shutting_down", "The server is shutting down; reconnect in a moment.")
	}
	if reg.perUser[user] >= limit {
		return errorf(http.StatusTooManyRequests, "too_many_connections", "You have too many open connections; close some tabs or terminals first.")
	}
	reg.perUser[user]++
	reg.wg.Add(1)
	return nil
}

func (reg *socketRegistry) add(c *socket) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.open[c] = struct{}{}
}

func (reg *socketRegistry) release(user string, c *socket) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if c != nil {
		delete(reg.open, c)
	}
	if reg.perUser[user]--; reg.perUser[user] <= 0 {
		delete(reg.perUser, user)
	}
	reg.wg.Done()
}

// closeAll closes every socket with 1001 and waits for their handlers.
func (reg *socketRegistry) closeAll(ctx context.Context) error {
	reg.mu.Lock()
	reg.closing = true
	open := make([]*socket, 0, len(reg.open))
	for c := range reg.open {
		open = append(open, c)
	}
	reg.mu.Unlock()
	for _, c := range open {
		c.CloseWith(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { reg.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

const (
	wsWriteTimeout = 10 * time.Second
	defaultPing    = 25 * time.Second
)

// serveSocket upgrades r and calls serve with the socket, then closes it.
// It blocks until serve returns. serve owns reading: it must read until an
// error, which is how pong deadlines and closes reach it.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, serve func(ctx context.Context, c *socket) error) error {
	key := "addr:" + clientAddr(r) // anonymous callers of public sockets
	if p, ok := principalFrom(r.Context()); ok {
		key = "user:" + p.Tenant + "/" + p.User
	}
	if err := s.sockets.reserve(key, s.opts.Limits.MaxWebSockets); err != nil {
		return err
	}
	var c *socket
	defer func() { s.sockets.release(key, c) }()

	up := websocket.Upgrader{
		HandshakeTimeout:  10 * time.Second,
		EnableCompression: false,
		// Large writes (terminal output, LSP results) go out in few
		// frames; the buffers are pooled, so an idle socket holds none.
		WriteBufferSize: 64 << 10,
		WriteBufferPool: s.wsWriteBuffers,
		// Origin and Host were checked by checkUpgradeOrigin before
		// authentication; gorilla's own check would accept a missing Origin.
		CheckOrigin: func(*http.Request) bool { return true },
		// Upgrade's own error answer is replaced by ours below.
		Error: func(http.ResponseWriter, *http.Request, int, error) {},
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return &apiError{http.StatusBadRequest, "websocket_required", "This route needs a WebSocket upgrade request.", err}
	}
	c = &socket{conn: conn, done: make(chan struct{})}
	s.sockets.add(c)
	s.metrics.websockets.Inc()
	defer s.metrics.websockets.Dec()

	ping := s.opts.PingInterval
	if ping <= 0 {
		ping = defaultPing
	}
	pongWait := 2*ping + ping/2
	conn.SetReadLimit(s.opts.Limits.MaxWSMessage)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(pongWait))
	})

	// AUTH-03: the credential that opened the socket is re-checked on
	// every ping tick (one store read), so a revoked token, a deleted
	// session or an expired portal JWT ends the socket within one ping
	// interval.
	p, _ := principalFrom(r.Context())
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		t := time.NewTicker(ping)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.checkCredential(p.cred, time.Now()); errors.Is(err, errCredentialRevoked) {
					s.log(r).Info("websocket closed: credential revoked")
					c.CloseWith(websocket.ClosePolicyViolation, "credential revoked")
					return
				} else if err != nil {
					s.log(r).Warn("websocket credential check failed; retrying next ping", "err", err)
				}
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteTimeout)); err != nil {
					c.CloseWith(websocket.CloseGoingAway, "")
					return
				}
			}
		}
	}()

	err = serve(ctx, c)
	code, reason := closeCodeFor(err)
	c.CloseWith(code, reason)
	if err != nil && !isExpectedClose(err) {
		s.log(r).Debug("websocket ended", "err", err)
	}
	return nil
}

// closeCodeFor maps serve's result to a close frame.
func closeCodeFor(err error) (int, string) {
	switch {
	case err == nil, isExpectedClose(err):
		return websocket.CloseNormalClosure, ""
	case errors.Is(err, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig, "message too big"
	case errors.Is(err, errMessageRate):
		return websocket.ClosePolicyViolation, "message rate exceeded"
	case errors.Is(err, context.Canceled):
		return websocket.CloseGoingAway, "server shutting down"
	default:
		return websocket.CloseInternalServerErr, "internal error"
	}
}

func isExpectedClose(err error) bool {
	return websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived)
}
