package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/workspace"
)

// CloseError is returned by Serve when the session ended for a reason the
// client should be told with a WebSocket close code.
type CloseError struct {
	Code   int    // WebSocket close code
	Reason string // safe for the client
	Err    error  // cause, for the log
}

func (e *CloseError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("lsp: %s: %v", e.Reason, e.Err)
	}
	return "lsp: " + e.Reason
}

func (e *CloseError) Unwrap() error { return e.Err }

// CloseCode is the WebSocket close code and reason for the client.
func (e *CloseError) CloseCode() (int, string) { return e.Code, e.Reason }

// WebSocket close codes used here.
const (
	closeGoingAway   = 1001
	closeInvalidData = 1007
	closePolicy      = 1008
	closeInternal    = 1011
	closeTryLater    = 1013
)

var (
	errWorkspaceStopped = &CloseError{Code: closeGoingAway, Reason: "workspace stopped"}
	errShuttingDown     = &CloseError{Code: closeGoingAway, Reason: "server shutting down"}
)

// session is one LSP connection and its gopls.
type session struct {
	m     *Manager
	log   *slog.Logger
	owner string // the user's owner key: gopls runs as it
	wsID  string
	dir   string // host workspace directory
	// toolDir is the workspace directory as gopls sees it
	// (Runner.ViewPath): dir itself with IsolationNone, /workspace under
	// bubblewrap. Every URI sent to gopls is built from it.
	toolDir string
	rw      *Rewriter
	client  jsonrpc2.ObjectStream
	cancel  context.CancelFunc

	done chan struct{} // closed when serve returned and the Manager forgot s
	quit chan struct{} // closed when serve starts tearing down
	died chan *gopls   // pumps report the end of gopls's output

	clientMu sync.Mutex // writes to client

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

	limiter bucket
	wg      sync.WaitGroup
}

func newSession(m *Manager, owner, wsID string, dirs workspace.HomeDirs, client jsonrpc2.ObjectStream, cancel context.CancelFunc) *session {
	dir := m.opts.Workspaces.Dir(wsID)
	roots := toolRoots(m.opts.Runner.Viewer(owner, wsID), dir, m.opts.GoRoot, dirs, m.opts.Redact) // one View for the session
	s := &session{
		m:          m,
		log:        m.log.With("workspace_id", wsID, "owner", owner),
		owner:      owner,
		wsID:       wsID,
		dir:        dir,
		toolDir:    roots.Workspace,
		rw:         NewRewriter(roots),
		client:     client,
		cancel:     cancel,
		done:       make(chan struct{}),
		quit:       make(chan struct{}),
		died:       make(chan *gopls, 1),
		pending:    make(map[string]string),
		serverReqs: make(map[string]string),
		docs:       make(map[string]*document),
		enc:        encUTF16,
		lastActive: time.Now(),
		limiter:    bucket{rate: m.opts.MessageRate, burst: float64(m.opts.MessageBurst), tokens: float64(m.opts.MessageBurst), last: time.Now()},
	}
	return s
}

// toolWorkspaceURI is the workspace's URI as gopls knows it.
func (s *session) toolWorkspaceURI() protocol.DocumentURI {
	return fileURI(filepath.ToSlash(s.toolDir))
}

// toolRoots returns the Roots of a session: the client roots mapped to
// the directories as the tool sees them (view translates a host path,
// Runner.ViewPath), and as Redact the user's other directories in both
// forms, the host forms of the roots where the tool sees them elsewhere,
// and extra. With IsolationNone view is the identity and the roots are the
// host directories.
func toolRoots(view func(string) string, wsDir, goroot string, dirs workspace.HomeDirs, extra []string) Roots {
	v := func(host string) string {
		if host == "" {
			return ""
		}
		return view(host)
	}
	r := Roots{Workspace: v(wsDir), GoRoot: v(goroot), GoModCache: v(dirs.GoModCache)}
	for _, h := range []string{dirs.Home, dirs.GoPath, dirs.GoCache} {
		if h != "" {
			r.Redact = append(r.Redact, h)
			if t := v(h); t != h {
				r.Redact = append(r.Redact, t)
			}
		}
	}
	for _, h := range []string{wsDir, goroot, dirs.GoModCache} {
		if h != "" && v(h) != h {
			r.Redact = append(r.Redact, h) // gopls never sees it; text that holds it is not the client's
		}
	}
	r.Redact = append(r.Redact, extra...)
	return r
}

// stop ends the session with reason.
func (s *session) stop(reason error) {
	s.mu.Lock()
	if s.stopErr == nil {
		s.stopErr = reason
	}
	s.mu.Unlock()
	s.cancel()
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
		ce := &CloseError{Code: closeTryLater, Reason: "the Go language server is not available yet; try again shortly", Err: err}
		s.closeClient(ce)
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
				break loop
			}
		case <-ctx.Done():
			s.mu.Lock()
			result = s.stopErr
			s.mu.Unlock()
			if result == nil {
				result = &CloseError{Code: closeGoingAway, Reason: "going away", Err: ctx.Err()}
			}
			break loop
		case <-idle.C:
			s.maybeIdleStop()
		}
	}
	close(s.quit)
	s.cancel()
	if !clientDone || isCloseError(result) {
		s.closeClient(result)
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
	var ce *CloseError
	return errors.As(err, &ce)
}

// closeClient closes the client with the code err carries.
func (s *session) closeClient(err error) {
	code, reason := 1000, ""
	var ce *CloseError
	if errors.As(err, &ce) {
		code, reason = ce.Code, ce.Reason
	}
	if c, ok := s.client.(interface{ CloseWith(int, string) }); ok {
		c.CloseWith(code, reason)
		return
	}
	_ = s.client.Close()
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
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	_ = s.client.WriteObject(json.RawMessage(raw))
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
			return &CloseError{Code: closeInternal, Reason: "gopls keeps crashing"}
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

// watch feeds gopls the workspace's file events while it has registered
// for workspace/didChangeWatchedFiles.
func (s *session) watch(ctx context.Context, w *workspace.Watchers) {
	defer s.wg.Done()
	sub, err := w.Subscribe(ctx, s.wsID, s.dir)
	if err != nil {
		s.log.Warn("watch workspace", "err", err)
		return
	}
	defer sub.Close()
	base := filepath.ToSlash(s.toolDir) // events name host files; gopls knows them by its view
	for {
		var batch []*protocol.FileEvent
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				return
			}
			batch = appendEvent(batch, base, ev)
		}
	more:
		for len(batch) < 256 {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					break more
				}
				batch = appendEvent(batch, base, ev)
			default:
				break more
			}
		}
		s.mu.Lock()
		on := s.watchOn
		s.mu.Unlock()
		if !on || len(batch) == 0 {
			continue
		}
		raw, err := encode(notification(protocol.MethodWorkspaceDidChangeWatchedFiles, protocol.DidChangeWatchedFilesParams{Changes: batch}))
		if err != nil {
			continue
		}
		s.srvMu.Lock()
		if g := s.current(); g != nil {
			_ = g.write(raw)
		}
		s.srvMu.Unlock()
	}
}

func appendEvent(batch []*protocol.FileEvent, base string, ev workspace.Event) []*protocol.FileEvent {
	var typ protocol.FileChangeType
	switch ev.Type {
	case workspace.EventCreated:
		typ = protocol.FileChangeTypeCreated
	case workspace.EventChanged:
		typ = protocol.FileChangeTypeChanged
	case workspace.EventDeleted:
		typ = protocol.FileChangeTypeDeleted
	default:
		return batch
	}
	rel, err := workspace.CleanPath(ev.Path)
	if err != nil || rel == "" {
		return batch
	}
	return append(batch, &protocol.FileEvent{URI: fileURI(base + "/" + rel), Type: typ})
}

// bucket is a token bucket; only the client pump uses it.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// wait takes one token, waiting for it when the bucket is empty.
func (b *bucket) wait(ctx context.Context) error {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	d := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		b.tokens = 0
		b.last = time.Now()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
