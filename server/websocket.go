package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
)

// socketSlot is one WebSocket in the server's registry. It is reserved
// before the upgrade, so the per-user limit holds against concurrent
// upgrades; it gets its connection after the upgrade; and it is done when
// its handler has returned, which is what shutdown waits for.
type socketSlot struct {
	mu    sync.Mutex
	conn  *bridge.Conn
	cause error // Stop before the connection existed
	done  chan struct{}
}

func newSocketSlot() *socketSlot { return &socketSlot{done: make(chan struct{})} }

// attach gives the slot its connection; a Stop that came first closes it
// at once.
func (s *socketSlot) attach(c *bridge.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
	if s.cause != nil {
		c.Stop(s.cause)
	}
}

// Stop closes the connection with cause's code (1001 at shutdown).
func (s *socketSlot) Stop(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cause = cause
	if s.conn != nil {
		s.conn.Stop(cause)
	}
}

// Done is closed when the socket's handler has returned.
func (s *socketSlot) Done() <-chan struct{} { return s.done }

const defaultPing = 25 * time.Second

// serveSocket upgrades r and calls serve with the connection, then closes
// it with the code bridge.CloseCode gives serve's result (a
// bridge.CloseError says which). It blocks until serve returns. serve owns
// reading: it must read until an error, which is how pong deadlines and
// closes reach it.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, serve func(ctx context.Context, c *bridge.Conn) error) error {
	key := bridge.Key{Owner: "addr:" + clientAddr(r)} // anonymous callers of public sockets
	if p, ok := principalFrom(r.Context()); ok {
		key = bridge.Key{Tenant: p.Tenant, Owner: "user:" + p.Tenant + "/" + p.User}
	}
	slot := newSocketSlot()
	switch err := s.sockets.Add(key, "", slot); {
	case errors.Is(err, bridge.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "shutting_down", "The server is shutting down; reconnect in a moment.")
	case errors.Is(err, bridge.ErrLimit):
		return errorf(http.StatusTooManyRequests, "too_many_connections", "You have too many open connections; close some tabs or terminals first.")
	case err != nil:
		return err
	}
	defer func() {
		s.sockets.Remove(slot)
		close(slot.done)
	}()

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
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return &apiError{http.StatusBadRequest, "websocket_required", "This route needs a WebSocket upgrade request.", err}
	}
	c := bridge.NewConn(ws, 0)
	slot.attach(c)
	s.metrics.websockets.Inc()
	defer s.metrics.websockets.Dec()

	ping := s.opts.PingInterval
	if ping <= 0 {
		ping = defaultPing
	}
	pongWait := s.opts.PongWait
	if pongWait <= 0 {
		pongWait = 2*ping + ping/2
	}
	ws.SetReadLimit(s.opts.Limits.MaxWSMessage)
	_ = ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(pongWait))
	})

	// AUTH-03: the credential that opened the socket is re-checked on
	// every ping tick (one store read), so a revoked token, a deleted
	// login or an expired portal JWT ends the socket within one ping
	// interval.
	p, _ := principalFrom(r.Context())
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		t := time.NewTicker(ping)
		defer t.Stop()
		for {
			select {
			case <-c.Done():
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.checkCredential(p.cred, time.Now()); errors.Is(err, errCredentialRevoked) {
					s.log(r).Info("websocket closed: credential revoked")
					c.CloseWith(bridge.ClosePolicyViolation, "credential revoked")
					return
				} else if err != nil {
					s.log(r).Warn("websocket credential check failed; retrying next ping", "err", err)
				}
				if err := c.Ping(); err != nil {
					c.CloseWith(bridge.CloseGoingAway, "")
					return
				}
			}
		}
	}()

	err = serve(ctx, c)
	c.CloseWith(bridge.CloseCode(err))
	if err != nil && !bridge.IsPeerClose(err) {
		s.log(r).Debug("websocket ended", "err", err)
	}
	return nil
}
