package dap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	godap "github.com/google/go-dap"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
)

// Terminals starts programs in the workspaces' terminals: cmd/ideserver
// adapts package terminal to it, so a terminal started here is listed and
// attachable like any other.
type Terminals interface {
	// Start runs cmd in a new terminal of owner's workspace: on a PTY
	// that is its stdin, stdout and stderr, in the workspace directory,
	// with the user's process environment, through the sandbox with
	// cmd's Binds and Ptrace (terminal.CreateOptions has both). Errors
	// wrap ErrTerminalLimit at the terminal limits and never hold a host
	// path.
	Start(ctx context.Context, owner, workspaceID string, cmd TerminalCmd) (Terminal, error)
}

// TerminalCmd is the program Terminals.Start runs: dlv.
type TerminalCmd struct {
	Argv   []string       // argv[0] an absolute host path
	Binds  []sandbox.Bind // further host paths it sees (sandbox.Cmd.Binds)
	Ptrace bool           // it is a debugger (sandbox.Cmd.Ptrace)
}

// Terminal is a terminal started by Terminals.
type Terminal interface {
	// ID is the terminal's id in the terminals API.
	ID() string
	// Owns reports whether pid is the terminal's process or a live
	// descendant of it (sandbox.Process.Owns): the dlv it runs, which
	// under bubblewrap is a descendant.
	Owns(pid int) bool
	// UID is the host uid the terminal's processes run as
	// (sandbox.Process.UID).
	UID() int
	// Done is closed when the terminal's process has ended.
	Done() <-chan struct{}
	// Close ends the terminal and everything started in it and returns
	// when they are gone or ctx ends. Safe to call more than once.
	Close(ctx context.Context) error
}

// TerminalEvent is the custom DAP event that names the terminal a launch
// with console "integratedTerminal" runs in: body {"terminalId": ID,
// "title": "Debug"}. It is sent before the launch reaches dlv.
const TerminalEvent = "ideserverTerminal"

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
	ln, sock, err := p.listenDlv("term.sock")
	if err != nil {
		return err
	}
	defer ln.Close()
	term, err := o.Terminals.Start(ctx, p.owner, p.workspaceID, TerminalCmd{
		Argv:   append([]string{p.dlvPath}, dlvArgs(p.view.path(sock))...),
		Binds:  p.binds(),
		Ptrace: true,
	})
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
	c, err = acceptDlv(ctx, ln, term.Done(), func(c *net.UnixConn) error { return checkPeer(c, term.UID(), term.Owns) })
	if err != nil {
		return err
	}
	fr := bridge.NewFrameReader(c, o.MaxMessage)
	if p.initReq != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		}
		if err := bridge.WriteFrame(c, p.initReq); err != nil {
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
