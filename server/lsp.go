package server

// LSPService bridges LSP WebSockets to gopls (package lsp, adapted in
// cmd/ideserver). Nil in Options: the LSP routes are not served.
type LSPService interface{}

// lspRoutes are the Language server routes of API.md.
func (s *Server) lspRoutes() []route {
	if s.opts.LSP == nil {
		return nil
	}
	return nil
}
