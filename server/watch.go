package server

import (
	"context"
	"net/http"
)

// handleWatch streams file change events of a workspace as text frames
// {"type","path"} until either side closes.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) error {
	o := owner(r)
	id := r.PathValue("ws")
	if _, err := s.opts.Workspaces.Use(o, id); err != nil {
		return err
	}
	// Subscribe before the upgrade, so every change after the client sees
	// the handshake complete is reported.
	sub, err := s.opts.Watchers.Subscribe(r.Context(), id, s.opts.Workspaces.Dir(id))
	if err != nil {
		return err
	}
	defer sub.Close()
	return s.serveSocket(w, r, func(ctx context.Context, c *socket) error {
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
				if err := c.WriteJSON(ev, wsWriteTimeout); err != nil {
					return err
				}
			}
		}
	})
}

// drain reads and discards client messages until the connection fails or
// closes; reading is what processes pongs and close frames.
func drain(c *socket) error {
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return err
		}
	}
}
