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
		ctx:    ctx,
		tenant: s.tenant,
		ws:     s.ws,
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
	ctx    context.Context // Serve's
	tenant string
	ws     string

	dir     string // private 0700 directory
	paths   *PathMap
	wsRoot  string
	dlvPath string

	// dlvMu serialises writes to dlv and guards the current dlv: the
	// first one, started by start, is replaced by one running in a
	// terminal when a launch asks for console "integratedTerminal".
	dlvMu sync.Mutex
	proc  *sandbox.Process // the first dlv; nil once replaced
	term  Terminal         // the terminal dlv runs in, if any
	conn  net.Conn         // the current dlv
	fr    *FrameReader     // conn's reader, used by pumpDlv only

	initReq       []byte      // the initialize request as forwarded, for a replacement dlv
	runInTerminal atomic.Bool // the client said supportsRunInTerminalRequest

	clientMu   sync.Mutex
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
	p.dlvPath = dlv
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
		Args:      dlvArgs(sock),
		Env:       env,
		Dir:       p.wsRoot,
		Stdout:    &logWriter{log: p.log, stream: "stdout"},
		Stderr:    &logWriter{log: p.log, stream: "stderr"},
	})
	if err != nil {
		return fmt.Errorf("%w: start dlv: %w", ErrUnavailable, err)
	}
	p.log = p.log.With("pid", p.proc.Pid())

	pid := p.proc.Pid()
	c, err := acceptDlv(sctx, ln, p.proc.Done(), func(c *net.UnixConn) error { return checkPeer(c, pid) })
	if err != nil {
		return err
	}
	p.conn, p.fr = c, NewFrameReader(c, o.MaxMessage)
	return nil
}

// dlvArgs are dlv's arguments: dial the proxy's socket sock.
func dlvArgs(sock string) []string {
	return []string{"dap", "--client-addr=unix:" + sock, "--only-same-user"}
}

// acceptDlv waits for dlv to dial ln and checks the peer; it gives up
// when exited is closed (dlv ended) or ctx ends.
func acceptDlv(ctx context.Context, ln *net.UnixListener, exited <-chan struct{}, check func(*net.UnixConn) error) (*net.UnixConn, error) {
	type accepted struct {
		c   *net.UnixConn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.AcceptUnix()
		ch <- accepted{c, err}
	}()
	var err error
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("%w: accept dlv: %w", ErrUnavailable, a.err)
		}
		if err := check(a.c); err != nil {
			_ = a.c.Close()
			return nil, err
		}
		return a.c, nil
	case <-exited:
		err = fmt.Errorf("%w: dlv exited before connecting", ErrUnavailable)
	case <-ctx.Done():
		err = fmt.Errorf("%w: dlv did not connect: %w", ErrUnavailable, ctx.Err())
	}
	_ = ln.Close() // ends Accept
	if a := <-ch; a.c != nil {
		_ = a.c.Close()
	}
	return nil, err
}

// peerCred returns the credentials of c's peer.
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("peer credentials: %w", cerr)
	}
	return cred, nil
}

// checkPeer accepts only dlv itself: same uid, and dlv's pid.
func checkPeer(c *net.UnixConn, pid int) error {
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	if int(cred.Uid) != os.Getuid() || int(cred.Pid) != pid {
		return fmt.Errorf("%w: unexpected peer on the dlv socket (pid %d)", ErrUnavailable, cred.Pid)
	}
	return nil
}


// moveToTerminal replaces the session's dlv with one started in a new
// terminal of the workspace, so the program it launches has the
// terminal's PTY as stdin, stdout and stderr: it starts `dlv dap` there,
// checks the peer, replays the client's initialize, and then makes the
// new dlv current and ends the first one. It runs on the client pump,
// before the launch is forwarded.
func (p *proxy) moveToTerminal() (err error) {
	o := &p.m.opts
	ctx, cancel := context.WithTimeout(p.ctx, o.StartTimeout)
	defer cancel()
	sock := filepath.Join(p.dir, "dlv-terminal.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen for dlv: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	defer ln.Close()
	term, err := o.Terminals.Start(ctx, p.tenant, p.ws, append([]string{p.dlvPath}, dlvArgs(sock)...))
	if err != nil {
		return fmt.Errorf("start dlv in a terminal: %w", err)
	}
	var c *net.UnixConn
	defer func() {
		if err == nil {
			return
		}
		if c != nil {
			_ = c.Close()
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if cerr := term.Close(cctx); cerr != nil {
			p.log.Warn("dap: end terminal", "err", cerr)
		}
	}()
	c, err = acceptDlv(ctx, ln, term.Done(), func(c *net.UnixConn) error { return checkPeer(c, term.Pid()) })
	if err != nil {
		return err
	}
	fr := NewFrameReader(c, o.MaxMessage)
	if p.initReq != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		}
		if err := WriteFrame(c, p.initReq); err != nil {
			return fmt.Errorf("%w: initialize dlv: %w", ErrUnavailable, err)
		}
		for {
			msg, err := fr.Read()
			if err != nil {
				return fmt.Errorf("%w: initialize dlv: %w", ErrUnavailable, err)
			}
			var r struct {
				Type    string `json:"type"`
				Command string `json:"command"`
				Success bool   `json:"success"`
			}
			if json.Unmarshal(msg, &r) == nil && r.Type == "response" && r.Command == "initialize" {
				if !r.Success {
					return fmt.Errorf("%w: dlv refused initialize", ErrUnavailable)
				}
				break
			}
		}
		_ = c.SetDeadline(time.Time{})
	}
	p.dlvMu.Lock()
	old, oldProc := p.conn, p.proc
	p.conn, p.fr, p.proc, p.term = c, fr, nil, term
	p.dlvMu.Unlock()
	_ = old.Close() // pumpDlv moves on to the new dlv
	if oldProc != nil {
		if err := oldProc.Close(); err != nil {
			p.log.Warn("dap: stop dlv", "err", err)
		}
	}
	p.log.Debug("dap: dlv runs in a terminal", "terminal_id", term.ID())
	return nil
}

// current returns the current dlv connection and its reader.
func (p *proxy) current() (net.Conn, *FrameReader) {
	p.dlvMu.Lock()
	defer p.dlvMu.Unlock()
	return p.conn, p.fr
}

// cleanup kills dlv and everything it started and removes the directory.
// Safe after a failed start.
func (p *proxy) cleanup() {
	p.dlvMu.Lock()
	conn, proc, term := p.conn, p.proc, p.term
	p.dlvMu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	if proc != nil {
		if err := proc.Close(); err != nil {
			p.log.Warn("dap: stop dlv", "err", err)
		}
	}
	if term != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := term.Close(ctx); err != nil {
			p.log.Warn("dap: end terminal", "err", err)
		}
		cancel()
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
	if conn, _ := p.current(); conn != nil {
		_ = conn.Close()
	}
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

// pumpDlv is the sole reader of dlv; when moveToTerminal replaced dlv
// it goes on with the new one.
func (p *proxy) pumpDlv() error {
	conn, fr := p.current()
	for {
		msg, err := fr.Read()
		if err != nil {
			if now, nfr := p.current(); now != conn {
				conn, fr = now, nfr
				continue
			}
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
	if p.conn == nil {
		return net.ErrClosed
	}
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
			terminal: p.m.opts.Terminals != nil && p.runInTerminal.Load(),
		})
		if r != nil {
			return nil, r
		}
		if args["outputMode"] == "local" { // console "integratedTerminal"
			if r := p.launchInTerminal(); r != nil {
				return nil, r
			}
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
	out := mustEncode(obj)
	if h.Command == "initialize" {
		var a struct {
			RunInTerminal bool `json:"supportsRunInTerminalRequest"`
		}
		_ = json.Unmarshal(h.Arguments, &a)
		p.runInTerminal.Store(a.RunInTerminal)
		p.initReq = out
	}
	return out, nil
}

// launchInTerminal moves dlv into a new terminal and tells the client
// which (an ideserverTerminal event and a console output event), before
// the launch is forwarded: the program's output waits in the terminal's
// scrollback until the client attaches.
func (p *proxy) launchInTerminal() *refusal {
	if err := p.moveToTerminal(); err != nil {
		p.log.Warn("dap: start dlv in a terminal", "err", err)
		if errors.Is(err, ErrTerminalLimit) {
			return refuse(reasonTerminal, "The workspace has as many terminals as allowed: close one, or launch with console \"internalConsole\".")
		}
		return refuse(reasonTerminal, "The program could not be started in a terminal; try again, or launch with console \"internalConsole\".")
	}
	p.dlvMu.Lock()
	id := p.term.ID()
	p.dlvMu.Unlock()
	_ = p.writeClient(mustEncode(map[string]any{
		"seq": 0, "type": "event", "event": TerminalEvent,
		"body": map[string]any{"terminalId": id, "title": "Debug"},
	}))
	_ = p.writeClient(mustEncode(&godap.OutputEvent{
		Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: "output"},
		Body:  godap.OutputEventBody{Category: "console", Output: "ideserver: the program runs in terminal " + id + "; attach to it for the program's input and output.\n"},
	}))
	return nil
}

// TerminalEvent is the custom DAP event that names the terminal a launch
// with console "integratedTerminal" runs in: body {"terminalId": ID,
// "title": "Debug"}. It is sent before the launch reaches dlv.
const TerminalEvent = "ideserverTerminal"

// fromDlv rewrites one dlv message for the client, or answers a reverse
// request itself.
func (p *proxy) fromDlv(msg []byte) (fwd, reply []byte) {
	var h header
	if err := json.Unmarshal(msg, &h); err != nil {
		p.log.Warn("dap: dropped malformed message from dlv")
		return nil, nil
	}
	if h.Type == "request" {
		// runInTerminal (dlv v1.27.2 never sends it: console
		// "integratedTerminal" is done by running dlv itself in a
		// terminal, see moveToTerminal) and startDebugging (a child
		// session would escape the proxy).
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
