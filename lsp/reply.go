package lsp

import (
	"encoding/json"
	"strings"
	"time"

	"go.lsp.dev/protocol"
)

// writeClient sends v (a map or raw bytes) to the client.
func (s *session) writeClient(v any) {
	var raw []byte
	switch x := v.(type) {
	case []byte:
		raw = x
	default:
		b, err := encode(v)
		if err != nil {
			return
		}
		raw = b
	}
	_ = s.client.WriteText(raw)
}

// showMessage tells the user something (window/showMessage).
func (s *session) showMessage(typ protocol.MessageType, text string) {
	s.writeClient(notification(protocol.MethodWindowShowMessage, protocol.ShowMessageParams{Type: typ, Message: text}))
}

func (s *session) replyError(m *message, code int, text string) {
	s.writeClient(errorResponse(m.id, code, text))
}

// failPending answers every request gopls will never answer.
func (s *session) failPending(text string) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.pending))
	for k := range s.pending {
		ids = append(ids, k)
	}
	s.pending = make(map[string]string)
	s.serverReqs = make(map[string]string)
	s.mu.Unlock()
	for _, k := range ids {
		s.writeClient(errorResponse(idFromKey(k), codeRequestFailed, text))
	}
}

func idFromKey(k string) any {
	if v, ok := strings.CutPrefix(k, "s:"); ok {
		return v
	}
	return json.Number(strings.TrimPrefix(k, "n:"))
}

// forwarded counts one message forwarded in direction dir and the time
// since start it took.
func (s *session) forwarded(dir string, start time.Time) {
	if mt := s.m.opts.Metrics; mt != nil {
		mt.messages.WithLabelValues(dir).Inc()
		mt.forward.WithLabelValues(dir).Observe(time.Since(start).Seconds())
	}
}

func (s *session) count(name string) {
	if mt := s.m.opts.Metrics; mt != nil {
		mt.refused.WithLabelValues(name).Inc()
	}
}

// replyServer answers a gopls request on the client's behalf. It writes
// from a goroutine: the pump must never block on gopls's input while gopls
// may be blocked on its output.
func (s *session) replyServer(g *gopls, v any) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = g.send(v)
	}()
}
