package dap

import "context"

// ServeClient is Serve on a fake client connection (the tests' in-memory
// pipe).
func (s *Session) ServeClient(ctx context.Context, c clientConn) error {
	return s.serve(ctx, c)
}
