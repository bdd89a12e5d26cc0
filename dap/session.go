package dap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	godap "github.com/google/go-dap"
	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/sandbox"
)

// Session is one debug session: one client stream, one dlv. Create it with
// Manager.Open.
type Session struct {
	m      *Manager
	tenant string
	ws     string
	ctx    context.Context // cancelled by Stop/Close
	cancel context.CancelFunc
	done   chan struct{} // closed when Serve returned or Close released an unserved session

	served    atomic.Bool
	closeOnce sync.Once
}

// Close releases a session that was never served; after Serve it only
// makes sure the slot is free. Idempotent.
func (s *Session) Close() {
	if s.served.Load() {
		return
	}
	s.closeOnce.Do(func() {
		s.cancel()
		s.m.release(s)
		close(s.done)
	})
}

// errDlvEnded is how the dlv pump reports that dlv closed its side.
var errDlvEnded = errors.New("dlv ended")

// Serve runs the session: it creates a private directory, starts dlv in
// the workspace through the sandbox, waits for dlv to connect to the
// directory's socket, and forwards messages both ways until the client's
// stream fails or closes, dlv ends (after `disconnect`, or killed: the
// client then gets a `terminated` event), or ctx or the session is
// cancelled. Before returning it kills dlv and everything it started, and
// removes the directory with the built binary. It closes client. It must
// be called at most once; it returns nil when dlv ended the session.
func (s *Session) Serve(ctx context.Context, client Stream) error {
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("dap: session served twice")
	}
	defer close(s.done)
	defer s.m.release(s)
	defer client.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	p := &proxy{
		m:      s.m,
		log:    s.m.log.With("tenant_id", s.tenant, "workspace_id", s.ws),
		client: client,
	}
	if err := p.start(ctx, s.tenant, s.ws); err != nil {
		p.cleanup()
		if errors.Is(err, ErrUnavailable) {
			_ = p.writeClient(p.outputEvent("ideserver: the debugger could not be started; try again in a moment.\n"))
		}
		p.sendTerminated()
		return err
	}
	defer p.cleanup()
	return p.serve(ctx)
}

// proxy is the state of one served session.
type proxy struct {
	m      *Manager
	log    *slog.Logger
	client Stream

	dir    string // private 0700 directory
	paths  *PathMap
	wsRoot string
	proc   *sandbox.Process
	conn   net.Conn // dlv

	clientMu   sync.Mutex
	dlvMu      sync.Mutex
	launched   atomic.Bool
	terminated atomic.Bool // a terminated event reached the client
}

// start prepares the directory and the path map, starts dlv and waits for
// its connection.
func (p *proxy) start(ctx context.Context, tenant, ws string) error {
	o := &p.m.opts
	wsDir, err := filepath.Abs(o.Workspaces.Dir(ws))
	if err != nil {
		return fmt.Errorf("workspace directory: %w", err)
	}
	if p.wsRoot, err = filepath.EvalSymlinks(wsDir); err != nil {
		return fmt.Errorf("workspace directory: %w", err)
	}
	env, err := o.Workspaces.ProcessEnv(tenant)
	if err != nil {
		return fmt.Errorf("tenant environment: %w", err)
	}
	td, err := o.Workspaces.TenantDirs(tenant)
	if err != nil {
		return fmt.Errorf("tenant directories: %w", err)
	}
	p.dir, err = os.MkdirTemp(o.TempDir, "ideserver-dap-")
	if err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	if err := os.Chmod(p.dir, 0o700); err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	roots := []Root{{Client: WorkspaceRoot, Host: wsDir}}
	if goroot := envValue(env, "GOROOT"); goroot != "" {
		roots = append(roots, Root{Client: GorootRoot, Host: goroot})
	}
	roots = append(roots,
		Root{Client: GomodcacheRoot, Host: td.GoModCache},
		Root{Client: "/tmp/debug", Host: p.dir, Hidden: true},
		Root{Client: "/home", Host: td.Home, Hidden: true},
		Root{Client: "/gopath", Host: td.GoPath, Hidden: true},
		Root{Client: "/gocache", Host: td.GoCache, Hidden: true},
	)
	for _, h := range o.HiddenDirs {
		roots = append(roots, Root{Client: "/ideserver", Host: h, Hidden: true})
	}
	if p.paths, err = NewPathMap(roots); err != nil {
		return err
	}

	sctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	dlv, err := o.Dlv(sctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	sock := filepath.Join(p.dir, "dlv.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen for dlv: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	defer ln.Close()

	p.proc, err = o.Runner.Start(ctx, sandbox.Cmd{
		Kind:      "dlv",
		Tenant:    tenant,
		Workspace: ws,
		Path:      dlv,
		Args:      []string{"dap", "--client-addr=unix:" + sock, "--only-same-user"},
		Env:       env,
		Dir:       p.wsRoot,
		Stdout:    &logWriter{log: p.log, stream: "stdout"},
		Stderr:    &logWriter{log: p.log, stream: "stderr"},
	})
	if err != nil {
		return fmt.Errorf("%w: start dlv: %w", ErrUnavailable, err)
	}
	p.log = p.log.With("pid", p.proc.Pid())

	type accepted struct {
		c   *net.UnixConn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.AcceptUnix()
		ch <- accepted{c, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return fmt.Errorf("%w: accept dlv: %w", ErrUnavailable, a.err)
		}
		if err := checkPeer(a.c, p.proc.Pid()); err != nil {
			_ = a.c.Close()
			return err
		}
		p.conn = a.c
		return nil
	case <-p.proc.Done():
		err = fmt.Errorf("%w: dlv exited before connecting", ErrUnavailable)
	case <-sctx.Done():
		err = fmt.Errorf("%w: dlv did not connect: %w", ErrUnavailable, sctx.Err())
	}
	_ = ln.Close() // ends Accept
	if a := <-ch; a.c != nil {
		_ = a.c.Close()
	}
	return err
}

// checkPeer accepts only dlv itself: same uid, and dlv's pid.
func checkPeer(c *net.UnixConn, pid int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if int(cred.Uid) != os.Getuid() || int(cred.Pid) != pid {
		return fmt.Errorf("%w: unexpected peer on the dlv socket (pid %d)", ErrUnavailable, cred.Pid)
	}
	return nil
}

// cleanup kills dlv and everything it started and removes the directory.
// Safe after a failed start.
func (p *proxy) cleanup() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	if p.proc != nil {
		if err := p.proc.Close(); err != nil {
			p.log.Warn("dap: stop dlv", "err", err)
		}
	}
	if p.dir != "" {
		if err := os.RemoveAll(p.dir); err != nil {
			p.log.Warn("dap: remove session directory", "err", err)
		}
	}
}

// serve runs both pumps; see STYLE.md §3.
func (p *proxy) serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- p.pumpClient() }()
	go func() { errc <- p.pumpDlv() }()
	pending := 2
	var err error
	select {
	case err = <-errc:
		pending--
	case <-ctx.Done():
		err = ctx.Err()
	}
	// dlv ended or we are stopping: tell a client that is still there.
	if errors.Is(err, errDlvEnded) || ctx.Err() != nil {
		p.sendTerminated()
	}
	_ = p.client.Close()
	_ = p.conn.Close()
	for ; pending > 0; pending-- {
		<-errc
	}
	if errors.Is(err, errDlvEnded) {
		return nil
	}
	return err
}

// pumpClient is the sole reader of the client.
func (p *proxy) pumpClient() error {
	for {
		msg, err := p.client.ReadMessage()
		if err != nil {
			return err
		}
		fwd, reply := p.fromClient(msg)
		if reply != nil {
			if err := p.writeClient(reply); err != nil {
				return err
			}
		}
		if fwd != nil {
			if err := p.writeDlv(fwd); err != nil {
				return errDlvEnded
			}
		}
	}
}

// pumpDlv is the sole reader of dlv.
func (p *proxy) pumpDlv() error {
	fr := NewFrameReader(p.conn, p.m.opts.MaxMessage)
	for {
		msg, err := fr.Read()
		if err != nil {
			if errors.Is(err, ErrFrame) {
				p.log.Warn("dap: bad frame from dlv", "err", err)
			}
			return errDlvEnded
		}
		fwd, reply := p.fromDlv(msg)
		if reply != nil {
			if err := p.writeDlv(reply); err != nil {
				return errDlvEnded
			}
		}
		if fwd != nil {
			if err := p.writeClient(fwd); err != nil {
				return err
			}
		}
	}
}

func (p *proxy) writeClient(msg []byte) error {
	p.clientMu.Lock()
	defer p.clientMu.Unlock()
	return p.client.WriteMessage(msg)
}

func (p *proxy) writeDlv(msg []byte) error {
	p.dlvMu.Lock()
	defer p.dlvMu.Unlock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return WriteFrame(p.conn, msg)
}

// sendTerminated tells the client the session is over, once.
func (p *proxy) sendTerminated() {
	if p.terminated.Swap(true) {
		return
	}
	b, _ := json.Marshal(&godap.TerminatedEvent{Event: godap.Event{
		ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: "terminated",
	}})
	_ = p.writeClient(b)
}

// header is the part of a DAP message the proxy routes on.
type header struct {
	Seq       int             `json:"seq"`
	Type      string          `json:"type"`
	Command   string          `json:"command"`
	Event     string          `json:"event"`
	Arguments json.RawMessage `json:"arguments"`
}

// Commands forwarded after path rewriting. Anything else is refused:
// attach, restart (it carries new launch arguments), and commands this
// server does not know.
var passCommands = map[string]bool{
	"initialize": true, "configurationDone": true, "disconnect": true, "terminate": true,
	"setBreakpoints": true, "setFunctionBreakpoints": true, "setExceptionBreakpoints": true,
	"setInstructionBreakpoints": true, "setDataBreakpoints": true, "dataBreakpointInfo": true,
	"breakpointLocations": true, "continue": true, "next": true, "stepIn": true, "stepOut": true,
	"stepBack": true, "reverseContinue": true, "pause": true, "goto": true, "gotoTargets": true,
	"stepInTargets": true, "stackTrace": true, "scopes": true, "variables": true,
	"setVariable": true, "setExpression": true, "source": true, "threads": true,
	"terminateThreads": true, "loadedSources": true, "modules": true, "exceptionInfo": true,
	"completions": true, "disassemble": true, "readMemory": true, "writeMemory": true,
	"cancel": true, "evaluate": true, "launch": true,
}

// fromClient decides what to do with one client message: forward it
// (rewritten) to dlv, or answer it.
func (p *proxy) fromClient(msg []byte) (fwd, reply []byte) {
	var h header
	if err := json.Unmarshal(msg, &h); err != nil {
		p.m.metrics.refused.WithLabelValues(reasonMalformed).Inc()
		return nil, p.outputEvent("ideserver: ignored a message that is not a valid DAP JSON object.\n")
	}
	if h.Type != "request" {
		// Responses answer reverse requests, which this proxy never
		// forwards; events do not flow this way.
		p.log.Debug("dap: dropped client message", "type", h.Type)
		return nil, nil
	}
	r := p.checkRequest(h)
	if r == nil {
		fwd, r = p.rewriteRequest(msg, h)
	}
	if r != nil {
		p.m.metrics.refused.WithLabelValues(r.Reason).Inc()
		p.log.Debug("dap: refused request", "command", h.Command, "reason", r.Reason)
		return nil, errorResponse(h.Seq, h.Command, r.Message)
	}
	return fwd, nil
}

func (p *proxy) checkRequest(h header) *refusal {
	switch {
	case h.Command == "attach":
		return refuse(reasonCommand, "attach is not allowed: ideserver debugs programs it builds from your workspace; use launch.")
	case h.Command == "restart":
		return refuse(reasonCommand, "restart is not supported: disconnect and launch again.")
	case !passCommands[h.Command]:
		return refuse(reasonCommand, "The command %q is not supported by this server.", truncate(h.Command, 60))
	case h.Command == "launch" && p.launched.Load():
		return refuse(reasonState, "This session has already launched a program; open a new debug session.")
	case h.Command == "evaluate":
		var a struct {
			Expression string `json:"expression"`
		}
		_ = json.Unmarshal(h.Arguments, &a)
		f := strings.Fields(a.Expression)
		if len(f) >= 3 && f[0] == "dlv" && f[1] == "config" && strings.EqualFold(f[2], "substitutePath") {
			return refuse(reasonArgument, "dlv config substitutePath is not allowed: paths are mapped by the server.")
		}
	}
	return nil
}

// rewriteRequest maps the request's client paths to host paths; a launch
// is checked and completed first.
func (p *proxy) rewriteRequest(msg []byte, h header) ([]byte, *refusal) {
	v, err := decodeJSON(msg)
	if err != nil {
		return nil, refuse(reasonMalformed, "The request is not valid JSON.")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, refuse(reasonMalformed, "The request must be a JSON object.")
	}
	if h.Command == "launch" {
		args, mode, r := checkLaunch(h.Arguments, launchEnv{
			paths: p.paths, wsRoot: p.wsRoot, output: filepath.Join(p.dir, "__debug_bin"),
		})
		if r != nil {
			return nil, r
		}
		obj["arguments"] = args
		if nd, _ := args["noDebug"].(bool); nd {
			mode = "nodebug"
		}
		p.launched.Store(true)
		p.m.metrics.launches.WithLabelValues(mode).Inc()
		return mustEncode(obj), nil
	}
	if a, ok := obj["arguments"]; ok {
		na, err := p.paths.rewriteToHost(a, false)
		if err != nil {
			return nil, refuse(reasonPath, "A source path in this request is outside the workspace, /goroot and /gomodcache.")
		}
		obj["arguments"] = na
	}
	return mustEncode(obj), nil
}

// fromDlv rewrites one dlv message for the client, or answers a reverse
// request itself.
func (p *proxy) fromDlv(msg []byte) (fwd, reply []byte) {
	var h header
	if err := json.Unmarshal(msg, &h); err != nil {
		p.log.Warn("dap: dropped malformed message from dlv")
		return nil, nil
	}
	if h.Type == "request" {
		// runInTerminal and startDebugging: no terminal to run in yet, and
		// a child session would escape the proxy.
		return nil, errorResponse(h.Seq, h.Command, "Not supported by ideserver.")
	}
	if h.Type == "event" && h.Event == "terminated" {
		p.terminated.Store(true)
	}
	if h.Type == "response" && h.Command == "initialize" {
		msg = withoutRestart(msg)
	}
	out, err := p.paths.MessageToClient(msg)
	if err != nil {
		p.log.Warn("dap: dropped message from dlv", "err", err)
		return nil, nil
	}
	return out, nil
}

func (p *proxy) outputEvent(text string) []byte {
	return mustEncode(&godap.OutputEvent{
		Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: "output"},
		Body:  godap.OutputEventBody{Category: "important", Output: text},
	})
}

// errorResponse is a failed response to request seq.
func errorResponse(seq int, command, message string) []byte {
	return mustEncode(&godap.ErrorResponse{
		Response: godap.Response{
			ProtocolMessage: godap.ProtocolMessage{Type: "response"},
			RequestSeq:      seq, Success: false, Command: command, Message: message,
		},
		Body: godap.ErrorResponseBody{Error: &godap.ErrorMessage{Id: 9000, Format: message, ShowUser: true}},
	})
}

func mustEncode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("dap: encode: %v", err)) // only our own types and decoded JSON reach here
	}
	return b
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if s, ok := strings.CutPrefix(kv, key+"="); ok {
			v = s
		}
	}
	return v
}

// logWriter logs dlv's own output at debug level, bounded.
type logWriter struct {
	log    *slog.Logger
	stream string
	n      atomic.Int64
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.n.Add(int64(len(b))) <= 64<<10 {
		w.log.Debug("dap: dlv output", "stream", w.stream, "text", truncate(strings.TrimSpace(string(b)), 1024))
	}
	return len(b), nil
}

var _ io.Writer = (*logWriter)(nil)

// withoutRestart clears supportsRestartRequest in an initialize response:
// the proxy refuses restart (it carries new launch arguments).
func withoutRestart(msg []byte) []byte {
	var m map[string]any
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	if body, ok := m["body"].(map[string]any); ok {
		body["supportsRestartRequest"] = false
		return mustEncode(m)
	}
	return msg
}
