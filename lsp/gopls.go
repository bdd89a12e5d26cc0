package lsp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// proxyIDPrefix starts the ids of requests the proxy itself sends to gopls
// (replayed initialize, shutdown). Client requests may not use it.
const proxyIDPrefix = "ideserver-"

// gopls is one running gopls process and its stdio stream.
type gopls struct {
	proc   *sandbox.Process
	stream jsonrpc2.ObjectStream

	writeMu  sync.Mutex
	done     chan struct{} // closed when the reading pump has ended
	stopping atomic.Bool   // stopped on purpose: its end is no crash

	nextID  atomic.Int64
	waitMu  sync.Mutex
	waiters map[string]chan *message
}

// pipes is gopls's stdio seen from the proxy.
type pipes struct {
	r io.ReadCloser  // gopls's stdout
	w io.WriteCloser // gopls's stdin
}

func (p pipes) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipes) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipes) Close() error                { return errors.Join(p.w.Close(), p.r.Close()) }

// startGopls starts gopls for the session through sandbox: plain "gopls"
// (stdio, no -listen, -remote or -debug: LSP-11) in the workspace directory
// with the user's environment.
func (s *session) startGopls(ctx context.Context) (*gopls, error) {
	path, err := s.m.opts.GoplsPath(ctx)
	if err != nil {
		return nil, fmt.Errorf("lsp: %w: %w", bridge.ErrUnavailable, err)
	}
	env, err := s.ws.env()
	if err != nil {
		return nil, fmt.Errorf("gopls env: %w", err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("gopls stdin: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_ = inR.Close()
		_ = inW.Close()
		return nil, fmt.Errorf("gopls stdout: %w", err)
	}
	proc, err := s.ws.start(context.WithoutCancel(ctx), sandbox.Cmd{
		Kind:   "gopls",
		Path:   path,
		Env:    env,
		Dir:    s.dir,
		Stdin:  inR,
		Stdout: outW,
		// gopls runs go list, which may fetch modules through GOPROXY.
		Network: sandbox.NetworkOutbound,
	})
	_ = inR.Close()
	_ = outW.Close()
	if err != nil {
		_ = inW.Close()
		_ = outR.Close()
		return nil, fmt.Errorf("lsp: %w: start gopls: %w", bridge.ErrUnavailable, err)
	}
	g := &gopls{
		proc:    proc,
		stream:  jsonrpc2.NewBufferedStream(pipes{outR, inW}, frameCodec{max: s.m.opts.MaxServerMessage}),
		done:    make(chan struct{}),
		waiters: make(map[string]chan *message),
	}
	if mt := s.m.opts.Metrics; mt != nil {
		mt.processes.Inc()
	}
	s.log.Debug("gopls started", "pid", proc.Pid())
	s.wg.Add(1)
	go s.serverPump(g)
	return g, nil
}

// write sends one message to gopls; safe for concurrent use.
func (g *gopls) write(raw []byte) error {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	return g.stream.WriteObject(json.RawMessage(raw))
}

func (g *gopls) send(v any) error {
	raw, err := encode(v)
	if err != nil {
		return err
	}
	return g.write(raw)
}

// call sends a request of the proxy's own and waits for its response.
func (g *gopls) call(ctx context.Context, method string, params any) (*message, error) {
	id := proxyIDPrefix + strconv.FormatInt(g.nextID.Add(1), 10)
	key := idKey(id)
	ch := make(chan *message, 1)
	g.waitMu.Lock()
	g.waiters[key] = ch
	g.waitMu.Unlock()
	defer func() {
		g.waitMu.Lock()
		delete(g.waiters, key)
		g.waitMu.Unlock()
	}()
	if err := g.send(request(id, method, params)); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if e, ok := m.obj["error"]; ok && e != nil {
			return m, fmt.Errorf("gopls %s: error response", method)
		}
		return m, nil
	case <-g.done:
		return nil, errors.New("gopls ended")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// deliver hands a response to a proxy request to its waiter.
func (g *gopls) deliver(m *message) {
	g.waitMu.Lock()
	ch := g.waiters[m.idKey]
	g.waitMu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
}

func isProxyID(id any) bool {
	s, ok := id.(string)
	return ok && strings.HasPrefix(s, proxyIDPrefix)
}

// serverPump is gopls's sole reader: it forwards every message to the
// client until gopls's output ends, then reports the end on s.died.
func (s *session) serverPump(g *gopls) {
	defer s.wg.Done()
	for {
		var raw json.RawMessage
		if err := g.stream.ReadObject(&raw); err != nil {
			if !g.stopping.Load() {
				s.log.Warn("gopls output ended", "err", err)
			}
			break
		}
		s.fromServer(g, raw)
	}
	close(g.done)
	select {
	case s.died <- g:
	case <-s.quit:
	}
}

// stopGopls shuts g down: shutdown and exit with ShutdownTimeout, then the
// process group is killed. It returns when the process and g's pump are
// gone.
func (s *session) stopGopls(g *gopls) {
	g.stopping.Store(true)
	timeout := s.m.opts.ShutdownTimeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	graceful := make(chan struct{})
	go func() {
		defer close(graceful)
		select {
		case <-g.done:
			return
		default:
		}
		if _, err := g.call(ctx, protocol.MethodShutdown, nil); err == nil {
			_ = g.send(notification(protocol.MethodExit, nil))
		}
		select {
		case <-g.proc.Done():
		case <-ctx.Done():
		}
	}()
	select {
	case <-graceful:
	case <-ctx.Done():
	}
	cancel()
	_ = g.proc.Close()
	_ = g.stream.Close()
	<-graceful
	<-g.done
	if mt := s.m.opts.Metrics; mt != nil {
		mt.processes.Dec()
	}
	s.log.Debug("gopls stopped", "pid", g.proc.Pid())
}

// prebuildTimeout bounds PrebuildCache's session: a gopls that hangs must
// not hold the prebuild (and /readyz) forever.
const prebuildTimeout = 15 * time.Minute

// GoplsBinary returns the host path of the gopls binary sessions run
// (workspace.GoplsPrebuilder).
func (m *Manager) GoplsBinary(ctx context.Context) (string, error) {
	path, err := m.opts.GoplsPath(ctx)
	if err != nil {
		return "", fmt.Errorf("lsp: %w: %w", bridge.ErrUnavailable, err)
	}
	return path, nil
}

// PrebuildCache runs one gopls session on the build cache prebuild's
// program, so that gopls's file cache holds what a user's first session
// needs (workspace.BuildCache.Gopls): gopls started through p.Start, then
// initialize as the proxy forwards the browser editor's (its capabilities
// and the proxy's changes, which decide gopls's cache keys), initialized,
// p.Files opened, their first diagnostics awaited (gopls has type-checked
// and analysed the program and every package it imports), p.Settled,
// shutdown and exit. Requests from gopls are answered with null.
func (m *Manager) PrebuildCache(ctx context.Context, p workspace.GoplsPrebuild) error {
	ctx, cancel := context.WithTimeout(ctx, prebuildTimeout)
	defer cancel()
	path, err := m.opts.GoplsPath(ctx)
	if err != nil {
		return fmt.Errorf("lsp: %w: %w", bridge.ErrUnavailable, err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_ = inR.Close()
		_ = inW.Close()
		return err
	}
	proc, err := p.Start(ctx, sandbox.Cmd{Kind: "gopls", Path: path, Stdin: inR, Stdout: outW})
	_ = inR.Close()
	_ = outW.Close()
	if err != nil {
		_ = inW.Close()
		_ = outR.Close()
		return fmt.Errorf("start gopls: %w", err)
	}
	readerDone := make(chan struct{})
	defer func() {
		cancel()
		_ = proc.Close()
		_ = inW.Close()
		_ = outR.Close()
		<-readerDone
	}()
	var wmu sync.Mutex
	send := func(v any) error {
		raw, err := encode(v)
		if err != nil {
			return err
		}
		wmu.Lock()
		defer wmu.Unlock()
		return bridge.WriteFrame(inW, raw)
	}
	responses := make(chan *message, 4)
	diagnosed := make(chan string, 64)
	readErr := make(chan error, 1)
	go func() {
		defer close(readerDone)
		br := bufio.NewReader(outR)
		for {
			raw, err := bridge.ReadFrame(br, m.opts.MaxServerMessage)
			if err != nil {
				readErr <- err
				return
			}
			msg, err := parseMessage(raw)
			switch {
			case err != nil:
			case msg.isRequest():
				_ = send(resultResponse(msg.id, nil))
			case msg.isResponse():
				select {
				case responses <- msg:
				case <-ctx.Done():
				}
			case msg.method == protocol.MethodTextDocumentPublishDiagnostics:
				params, _ := msg.obj["params"].(map[string]any)
				if uri, ok := params["uri"].(string); ok {
					select {
					case diagnosed <- uri:
					default:
					}
				}
			}
		}
	}()
	call := func(id, method string, params any) error {
		if err := send(request(id, method, params)); err != nil {
			return err
		}
		select {
		case r := <-responses:
			if e, ok := r.obj["error"]; ok && e != nil {
				return fmt.Errorf("gopls %s: error response", method)
			}
			return nil
		case err := <-readErr:
			return fmt.Errorf("gopls %s: %w", method, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	root := fileURI(p.Dir)
	// What the browser's editor (@codemirror/lsp-client) declares of
	// what gopls keys its cache by: no relatedInformation, no settings.
	params := map[string]any{
		"capabilities": map[string]any{"textDocument": map[string]any{
			"publishDiagnostics": map[string]any{"versionSupport": true},
		}},
	}
	sanitizeInitialize(params, root)
	if err := call(proxyIDPrefix+"prebuild-1", protocol.MethodInitialize, params); err != nil {
		return err
	}
	if err := send(notification(protocol.MethodInitialized, map[string]any{})); err != nil {
		return err
	}
	waiting := map[string]bool{}
	for name, text := range p.Files {
		uri := string(root) + "/" + name
		waiting[uri] = true
		if err := send(notification(protocol.MethodTextDocumentDidOpen, map[string]any{"textDocument": map[string]any{
			"uri": uri, "languageId": "go", "version": 1, "text": text,
		}})); err != nil {
			return err
		}
	}
	for len(waiting) > 0 {
		select {
		case uri := <-diagnosed:
			delete(waiting, uri)
		case err := <-readErr:
			return fmt.Errorf("gopls ended before its diagnostics: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.Settled != nil {
		if err := p.Settled(ctx); err != nil {
			return err
		}
	}
	if err := call(proxyIDPrefix+"prebuild-2", protocol.MethodShutdown, nil); err != nil {
		return err
	}
	_ = send(notification(protocol.MethodExit, nil))
	select {
	case <-proc.Done():
	case <-time.After(m.opts.ShutdownTimeout):
	}
	return nil
}
