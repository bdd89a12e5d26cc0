package server

// PlaygroundService serves sharing and the Go Playground compatible
// endpoints (package playground, adapted in cmd/ideserver). Nil in Options:
// those routes are not served.
type PlaygroundService interface{}

// playgroundRoutes are the Sharing and Go Playground routes of API.md.
func (s *Server) playgroundRoutes() []route {
	if s.opts.Playground == nil {
		return nil
	}
	return nil
}
