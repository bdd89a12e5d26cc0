package dap

import "context"

// ServeClient is Serve on a fake client connection (the tests' in-memory
// pipe).
func (s *Session) ServeClient(ctx context.Context, c clientConn) error {
	return s.serve(ctx, c)
}

// SetPeerCheckHook makes f run before the peer check of every dlv started
// in a terminal. Set it before the sessions it concerns are served.
func (m *Manager) SetPeerCheckHook(f func()) { m.peerCheckHook = f }
