package server

// SocketCounts reports how many upgraded WebSockets the registry holds and
// how many slots are reserved (a slot is taken before the upgrade and freed
// when the handler returns). Tests use it to check that a refused or
// dropped connection leaves nothing behind.
func (s *Server) SocketCounts() (open, reserved int) {
	for _, slot := range s.sockets.All() {
		reserved++
		slot.mu.Lock()
		if slot.conn != nil {
			open++
		}
		slot.mu.Unlock()
	}
	return open, reserved
}

// RouteInfo describes a route for the route-table tests.
type RouteInfo struct {
	Pattern   string
	Public    bool
	Admin     bool
	WebSocket bool
}

// Routes lists every route the server answers.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, RouteInfo{rt.pattern, rt.public, rt.admin, rt.kind == kindWebSocket})
	}
	return out
}
