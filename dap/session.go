package dap

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	godap "github.com/google/go-dap"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/terminal"
	"github.com/ideserver/ideserver/workspace"
)

// clientConn is the client's side of a session: a *bridge.Conn carrying
// one DAP message (JSON, no Content-Length header) per text frame (a fake
// in the package's tests).
type clientConn interface {
	ReadText() ([]byte, error)   // one goroutine only: the client pump
	WriteText(data []byte) error // the session serialises its writes
	Stop(cause error)            // close with bridge.CloseCode(cause); the first close wins
}

// Session is one debug session: one client connection, one dlv. Create it
// with Manager.Open.
type Session struct {
	m      *Manager
	h      *workspace.Handle       // the user's checked access to the workspace
	ctx    context.Context         // cancelled with the cause by Stop
	cancel context.CancelCauseFunc // cancels ctx
	done   chan struct{}           // closed when Serve returned or Close released an unserved session

	served      atomic.Bool
	closeOnce   sync.Once
	releaseOnce sync.Once
}

// Stop ends the session with cause (bridge.ErrWorkspaceStopped,
// bridge.ErrShuttingDown): dlv and the debuggee are killed, the client is
// told `terminated`, and its connection closes with cause's code. It
// returns at once; Done is closed when everything is gone.
func (s *Session) Stop(cause error) { s.cancel(cause) }

// Done is closed once the session has ended: Serve returned, or Close
// released a session that was never served.
func (s *Session) Done() <-chan struct{} { return s.done }

// Close releases a session that was never served; after Serve it only
// makes sure the slot is free. Idempotent.
func (s *Session) Close() {
	if s.served.Load() {
		return
	}
	s.closeOnce.Do(func() {
		s.cancel(nil)
		s.m.release(s)
		close(s.done)
	})
}

// Serve runs the session: it creates a private directory, starts dlv in
// the workspace through the sandbox, waits for dlv to connect to the
// directory's socket, and forwards messages both ways until the client's
// connection fails or closes (a binary frame ends it with 1003), dlv ends
// (after `disconnect`, or killed: the client then gets a `terminated`
// event), ctx ends or the session is stopped. Before returning it kills
// dlv and everything it started, removes the directory with the built
// binary, and closes conn with the code of its result (bridge.CloseCode):
// nil when dlv ended the session, Stop's cause when stopped. It must be
// called at most once.
func (s *Session) Serve(ctx context.Context, conn *bridge.Conn) error {
	return s.serve(ctx, conn)
}

// serve is Serve on any clientConn.
func (s *Session) serve(ctx context.Context, client clientConn) (err error) {
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("dap: session served twice")
	}
	defer close(s.done)
	defer s.m.release(s)
	defer func() { client.Stop(err) }()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.ctx, func() { cancel(context.Cause(s.ctx)) })
	defer stop()

	p := &proxy{
		m:           s.m,
		log:         s.m.log.With("owner", s.h.Owner.Key(), "workspace_id", s.h.WorkspaceID),
		client:      client,
		ctx:         ctx,
		h:           s.h,
		owner:       s.h.Owner.Key(),
		workspaceID: s.h.WorkspaceID,
	}
	if err := p.start(ctx); err != nil {
		p.cleanup()
		if errors.Is(err, ErrUnavailable) {
			_ = p.writeClient(p.outputEvent("ideserver: the debugger could not be started; try again in a moment.\n"))
		}
		p.sendTerminated()
		switch {
		case ctx.Err() != nil: // stopped while starting: close with the stop's cause
			return context.Cause(ctx)
		case errors.Is(err, ErrUnavailable):
			return bridge.Closing(bridge.CloseTryAgainLater, "the debugger is not available right now", err)
		}
		return err
	}
	defer p.cleanup()
	return p.serve(ctx)
}

// proxy is the state of one served session.
type proxy struct {
	m           *Manager
	log         *slog.Logger
	client      clientConn
	ctx         context.Context   // Serve's
	h           *workspace.Handle // the session's handle: dlv is started with h.Start
	owner       string            // h.Owner.Key(): dlv runs as it
	workspaceID string            // h.WorkspaceID

	dir           string        // private 0700 directory
	dirProc       string        // dir as dlv sees it
	paths         *sessionPaths // client ↔ dlv's process paths
	workspaceReal string        // the workspace's host directory, symlinks resolved
	workspaceProc string        // workspaceReal as dlv sees it
	dlvPath       string

	// dlvMu serialises writes to dlv and guards the current dlv: the
	// first one, started by start, is replaced by one running in a
	// terminal when a launch asks for console "integratedTerminal".
	dlvMu sync.Mutex
	proc  *sandbox.Process    // the first dlv; nil once replaced
	term  *terminal.Terminal  // the terminal dlv runs in, if any
	conn  net.Conn            // the current dlv
	fr    *bridge.FrameReader // conn's reader, used by pumpDlv only

	initReq       []byte      // the initialize request as forwarded, for a replacement dlv
	runInTerminal atomic.Bool // the client said supportsRunInTerminalRequest

	clientMu   sync.Mutex
	launched   atomic.Bool
	terminated atomic.Bool // a terminated event reached the client
}

// current returns the current dlv connection and its reader.
func (p *proxy) current() (net.Conn, *bridge.FrameReader) {
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
		if err := p.endTerminal(ctx, term); err != nil {
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

// serve runs both pumps, each the sole reader of its side, and returns
// only after both have ended, so no goroutine outlives the session.
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
		err = context.Cause(ctx)
	}
	// dlv ended or we are stopping: tell a client that is still there.
	if errors.Is(err, errDlvEnded) || ctx.Err() != nil {
		p.sendTerminated()
	}
	result := err
	if errors.Is(err, errDlvEnded) {
		result = nil
	}
	p.client.Stop(result) // ends pumpClient's read and any write
	if conn, _ := p.current(); conn != nil {
		_ = conn.Close()
	}
	for ; pending > 0; pending-- {
		<-errc
	}
	return result
}

// pumpClient is the sole reader of the client.
func (p *proxy) pumpClient() error {
	for {
		msg, err := p.client.ReadText()
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
			if errors.Is(err, bridge.ErrFrame) {
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
	return p.client.WriteText(msg)
}

func (p *proxy) writeDlv(msg []byte) error {
	p.dlvMu.Lock()
	defer p.dlvMu.Unlock()
	if p.conn == nil {
		return net.ErrClosed
	}
	_ = p.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return bridge.WriteFrame(p.conn, msg)
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
