package lsp

import "context"

// ServeClient is Serve over any client connection (the tests' in-memory
// pipe).
func (m *Manager) ServeClient(ctx context.Context, owner, workspaceID string, c clientConn) error {
	return m.serve(ctx, owner, workspaceID, c)
}

// Rewriter is the proxy's message rewriter, for the external tests.
type Rewriter = rewriter

// NewRewriter builds a Rewriter for roots.
func NewRewriter(roots Roots) *Rewriter { return newRewriter(roots) }

// ClientText rewrites host directories in s as text towards the client.
func (rw *rewriter) ClientText(s string) string { return rw.text.rewrite(s) }
