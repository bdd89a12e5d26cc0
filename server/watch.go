package server

import (
	"context"
	"net/http"

	"golang.org/x/time/rate"

	"github.com/ideserver/ideserver/internal/bridge"
)

// handleWatch streams file change events of a workspace as text frames
// {"type","path"} until either side closes.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	workspaceID := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, workspaceID); err != nil {
		return err
	}
	// Subscribe before the upgrade, so every change after the client sees
	// the handshake complete is reported.
	sub, err := s.opts.Watchers.Subscribe(r.Context(), workspaceID, s.opts.Workspaces.Dir(workspaceID))
	if err != nil {
		return err
	}
	defer sub.Close()
	return s.serveSocket(w, r, func(ctx context.Context, c *bridge.Conn) error {
		readErr := make(chan error, 1)
		go func() { readErr <- drain(c) }()
		for {
			select {
			case err := <-readErr:
				return err
			case ev, ok := <-sub.Events():
				if !ok {
					// The workspace was suspended or deleted.
					return nil
				}
				if err := c.WriteJSON(ev); err != nil {
					return err
				}
			}
		}
	})
}

// Client message rate on sockets whose client has nothing to say (WS-13):
// a token bucket of watchMsgBurst messages refilled at watchMsgRate per
// second.
const (
	watchMsgRate  = 50
	watchMsgBurst = 100
)

// errMessageRate ends a socket whose client sends messages faster than
// its rate limit; it closes with 1008.
var errMessageRate = bridge.Closing(bridge.ClosePolicyViolation, "message rate exceeded", nil)

// drain reads and discards client messages until the connection fails or
// closes; reading is what processes pongs and close frames. A client that
// sends faster than watchMsgRate allows ends with errMessageRate. It runs in
// the caller's goroutine and allocates nothing per message beyond gorilla's
// read.
func drain(c *bridge.Conn) error {
	lim := rate.NewLimiter(watchMsgRate, watchMsgBurst)
	for {
		if _, _, err := c.Read(); err != nil {
			return err
		}
		if !lim.Allow() {
			return errMessageRate
		}
	}
}
