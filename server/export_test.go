package server

// SocketCounts reports how many upgraded WebSockets the registry holds and
// how many per-user slots are reserved (a slot is taken before the upgrade
// and freed when the handler returns). Tests use it to check that a refused
// or dropped connection leaves nothing behind.
func (s *Server) SocketCounts() (open, reserved int) {
	s.sockets.mu.Lock()
	defer s.sockets.mu.Unlock()
	for _, n := range s.sockets.perUser {
		reserved += n
	}
	return len(s.sockets.open), reserved
}
