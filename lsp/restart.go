package lsp

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/internal/bridge"
)

// recoverFrom handles the unexpected end of gopls g: pending requests get
// an error at once, the user is told, and gopls is restarted with backoff
// and replay, at most MaxRestarts times within RestartWindow.
func (s *session) recoverFrom(ctx context.Context, dead *gopls) error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.current() != dead {
		return nil
	}
	s.setServer(nil)
	dead.stopping.Store(true)
	_ = dead.proc.Close()
	_ = dead.stream.Close()
	if mt := s.m.opts.Metrics; mt != nil {
		mt.processes.Dec()
		mt.restarts.WithLabelValues("crash").Inc()
	}
	st, _ := dead.proc.Wait() // returns at once: Close has ended it
	s.log.Warn("gopls stopped unexpectedly; restarting", "pid", dead.proc.Pid(), "exit", st.Code, "signal", st.Signal)
	s.failPending("The Go language server stopped unexpectedly and is restarting; try again in a moment.")
	msg := "The Go language server (gopls) stopped unexpectedly and is being restarted."
	if st.Signal == "killed" {
		// SIGKILL from outside: with isolation, most likely the kernel's
		// OOM killer at the workspace's memory limit.
		msg = "The Go language server (gopls) was killed, perhaps because the workspace reached its memory limit; it is being restarted."
	}
	s.showMessage(protocol.MessageTypeWarning, msg)
	for {
		now := time.Now()
		s.mu.Lock()
		kept := s.restarts[:0]
		for _, t := range s.restarts {
			if now.Sub(t) < s.m.opts.RestartWindow {
				kept = append(kept, t)
			}
		}
		s.restarts = append(kept, now)
		n := len(s.restarts)
		s.mu.Unlock()
		if n > s.m.opts.MaxRestarts {
			s.log.Error("gopls keeps crashing; giving up", "restarts", n-1)
			s.showMessage(protocol.MessageTypeError, "The Go language server keeps crashing; reload the page to try again.")
			return bridge.Closing(bridge.CloseInternal, "gopls keeps crashing", nil)
		}
		backoff := min(s.m.opts.RestartBackoff<<(n-1), 5*time.Second)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		err := s.startAndReplay(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("gopls restart failed", "err", err)
	}
}

// startAndReplay starts gopls and replays initialize, initialized and every
// open document. srvMu must be held.
func (s *session) startAndReplay(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	g, err := s.startGopls(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	initParams, initialized := s.initParams, s.initialized
	var opens []any
	for _, uri := range s.docOrder {
		d := s.docs[uri]
		opens = append(opens, map[string]any{"textDocument": map[string]any{
			"uri": uri, "languageId": d.languageID, "version": d.version, "text": d.text,
		}})
	}
	s.mu.Unlock()
	fail := func(err error) error {
		s.stopGopls(g)
		return err
	}
	if initParams != nil {
		ictx, cancel := context.WithTimeout(ctx, s.m.opts.InitTimeout)
		_, err := g.call(ictx, protocol.MethodInitialize, json.RawMessage(initParams))
		cancel()
		if err != nil {
			return fail(fmt.Errorf("replay initialize: %w", err))
		}
		if initialized {
			if err := g.send(notification(protocol.MethodInitialized, map[string]any{})); err != nil {
				return fail(err)
			}
		}
		for _, p := range opens {
			if err := g.send(notification(protocol.MethodTextDocumentDidOpen, p)); err != nil {
				return fail(err)
			}
		}
	}
	s.setServer(g)
	return nil
}

// ensureServer returns the running gopls, starting it (with replay) when it
// was stopped for idleness. srvMu must be held.
func (s *session) ensureServer(ctx context.Context) (*gopls, error) {
	if g := s.current(); g != nil {
		return g, nil
	}
	if err := s.startAndReplay(ctx); err != nil {
		return nil, err
	}
	if mt := s.m.opts.Metrics; mt != nil {
		mt.restarts.WithLabelValues("idle").Inc()
	}
	return s.current(), nil
}

// maybeIdleStop stops gopls when the client has been quiet for
// IdleTimeout and nothing is pending.
func (s *session) maybeIdleStop() {
	s.mu.Lock()
	idle := time.Since(s.lastActive) >= s.m.opts.IdleTimeout && len(s.pending) == 0
	s.mu.Unlock()
	if !idle || !s.srvMu.TryLock() {
		return
	}
	defer s.srvMu.Unlock()
	g := s.takeServer()
	if g == nil {
		return
	}
	s.log.Debug("stopping idle gopls")
	s.stopGopls(g)
}
