package lsp

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"go.lsp.dev/protocol"
	"golang.org/x/time/rate"

	"github.com/ideserver/ideserver/internal/bridge"
)

// clientConn is the client's side of a session: a *bridge.Conn carrying
// one JSON-RPC message per text frame (a fake in the package's tests).
type clientConn interface {
	ReadText() ([]byte, error)   // one goroutine only: the client pump
	WriteText(data []byte) error // safe for concurrent use
	Stop(cause error)            // close with bridge.CloseCode(cause); the first close wins
}

// session is one LSP connection and its gopls.
type session struct {
	m           *Manager
	log         *slog.Logger
	ws          target // the workspace: gopls runs as its user, in its sandbox view
	workspaceID string
	dir         string // host workspace directory
	// toolDir is the workspace directory as gopls sees it (its process
	// path): dir itself without isolation, /workspace under bubblewrap.
	// Every URI sent to gopls is built from it.
	toolDir string
	rw      *rewriter
	client  clientConn
	cancel  context.CancelFunc

	done chan struct{} // closed when serve returned and the Manager forgot s
	quit chan struct{} // closed when serve starts tearing down
	died chan *gopls   // pumps report the end of gopls's output

	// srvMu serialises writes to gopls with starting and restarting it, so
	// that no message reaches a gopls before its replay is complete.
	srvMu sync.Mutex

	mu          sync.Mutex
	srv         *gopls            // current gopls; nil while stopped
	pending     map[string]string // client request id -> method, at srv
	serverReqs  map[string]string // gopls request id -> method, at client
	docs        map[string]*document
	docOrder    []string
	docBytes    int    // total text of docs
	initParams  []byte // sanitised, host form
	initialized bool
	enc         string
	watchOn     bool
	exiting     bool
	lastActive  time.Time
	restarts    []time.Time
	stopErr     error

	limiter *rate.Limiter // client messages; only the client pump waits on it
	wg      sync.WaitGroup
}

func newSession(m *Manager, t target, client clientConn, cancel context.CancelFunc) *session {
	s := &session{
		m:           m,
		log:         m.log.With("workspace_id", t.key.WorkspaceID, "owner", t.key.Owner),
		ws:          t,
		workspaceID: t.key.WorkspaceID,
		dir:         t.dir,
		toolDir:     t.roots.Workspace,
		rw:          newRewriter(t.roots),
		client:      client,
		cancel:      cancel,
		done:        make(chan struct{}),
		quit:        make(chan struct{}),
		died:        make(chan *gopls, 1),
		pending:     make(map[string]string),
		serverReqs:  make(map[string]string),
		docs:        make(map[string]*document),
		enc:         encUTF16,
		lastActive:  time.Now(),
		limiter:     rate.NewLimiter(rate.Limit(m.opts.MessageRate), m.opts.MessageBurst),
	}
	return s
}

// toolWorkspaceURI is the workspace's URI as gopls knows it.
func (s *session) toolWorkspaceURI() protocol.DocumentURI {
	return fileURI(filepath.ToSlash(s.toolDir))
}

// Stop ends the session with cause (bridge.ErrWorkspaceStopped,
// bridge.ErrShuttingDown), which Serve returns.
func (s *session) Stop(cause error) {
	s.mu.Lock()
	if s.stopErr == nil {
		s.stopErr = cause
	}
	s.mu.Unlock()
	s.cancel()
}

// Done is closed when the session has ended and left the Manager.
func (s *session) Done() <-chan struct{} { return s.done }

// endCause is why ctx ended: the cause Stop was given, or going away.
func (s *session) endCause(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopErr != nil {
		return s.stopErr
	}
	return bridge.Closing(bridge.CloseGoingAway, "going away", ctx.Err())
}

// serve runs the session; see Manager.Serve.
// The caller closes s.done after serve returned.
func (s *session) serve(ctx context.Context) (result error) {
	s.srvMu.Lock()
	g, err := s.startGopls(ctx)
	if err == nil {
		s.setServer(g)
	}
	s.srvMu.Unlock()
	if err != nil {
		ce := bridge.Closing(bridge.CloseTryAgainLater, "the Go language server is not available yet; try again shortly", err)
		s.client.Stop(ce)
		return ce
	}
	if w := s.m.opts.Watchers; w != nil {
		s.wg.Add(1)
		go s.watch(ctx, w)
	}
	clientErr := make(chan error, 1)
	go func() { clientErr <- s.clientPump(ctx) }()

	tick := s.m.opts.IdleTimeout / 4
	tick = min(max(tick, 10*time.Millisecond), 30*time.Second)
	idle := time.NewTicker(tick)
	defer idle.Stop()

	clientDone := false
loop:
	for {
		select {
		case err := <-clientErr:
			result, clientDone = err, true
			break loop
		case g := <-s.died:
			if s.current() != g || g.stopping.Load() {
				continue
			}
			s.mu.Lock()
			exiting := s.exiting
			s.mu.Unlock()
			if exiting {
				break loop // the client asked gopls to exit
			}
			if err := s.recoverFrom(ctx, g); err != nil {
				result = err
				if ctx.Err() != nil {
					result = s.endCause(ctx)
				}
				break loop
			}
		case <-ctx.Done():
			result = s.endCause(ctx)
			break loop
		case <-idle.C:
			s.maybeIdleStop()
		}
	}
	close(s.quit)
	s.cancel()
	if !clientDone || isCloseError(result) {
		// The client learns why at once (and its pump stops reading),
		// before gopls's shutdown; the caller's close with the same
		// result then finds it closed.
		s.client.Stop(result)
	}
	if g := s.takeServer(); g != nil {
		s.stopGopls(g)
	}
	if !clientDone {
		<-clientErr
	}
	if g := s.takeServer(); g != nil { // started by the client pump meanwhile
		s.stopGopls(g)
	}
	s.wg.Wait()
	return result
}

func isCloseError(err error) bool {
	var ce *bridge.CloseError
	return errors.As(err, &ce)
}

func (s *session) current() *gopls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// setServer must be called with srvMu held.
func (s *session) setServer(g *gopls) {
	s.mu.Lock()
	s.srv = g
	s.mu.Unlock()
}

func (s *session) takeServer() *gopls {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.srv
	s.srv = nil
	return g
}
