package server

// TerminalService runs workspaces' terminals (package terminal, adapted in
// cmd/ideserver). Nil in Options: the terminal routes are not served.
type TerminalService interface{}

// terminalRoutes are the Terminals routes of API.md.
func (s *Server) terminalRoutes() []route {
	if s.opts.Terminals == nil {
		return nil
	}
	return nil
}
