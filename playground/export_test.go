package playground

import "context"

// HoldSlot takes a slot of s's limiter for client, as a running build
// would, until release is called.
func HoldSlot(s *Service, client string) (release func(), err error) {
	return s.lim.acquire(context.Background(), client)
}

// Queued reports how many requests wait for a slot of s's limiter.
func Queued(s *Service) int {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	return len(s.lim.queue)
}
