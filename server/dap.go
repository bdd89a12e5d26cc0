package server

// DAPService bridges DAP WebSockets to Delve (package dap, adapted in
// cmd/ideserver). Nil in Options: the DAP route is not served.
type DAPService interface{}

// dapRoutes are the Debugger routes of API.md.
func (s *Server) dapRoutes() []route {
	if s.opts.DAP == nil {
		return nil
	}
	return nil
}
