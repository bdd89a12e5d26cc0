package lsp

import (
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

	"github.com/sourcegraph/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
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
