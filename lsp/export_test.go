package lsp

// Rewriter is the proxy's message rewriter, for the external tests.
type Rewriter = rewriter

// NewRewriter builds a Rewriter for roots.
func NewRewriter(roots Roots) *Rewriter { return newRewriter(roots) }

// ClientText rewrites host directories in s as text towards the client.
func (rw *rewriter) ClientText(s string) string { return rw.text.rewrite(s) }
