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
	"github.com/ideserver/ideserver/terminal"
)

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
		if errors.Is(err, terminal.ErrLimit) {
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
	info, err := o.Terminals.Create(ctx, p.h, terminal.CreateOptions{
		Command: append([]string{p.dlvPath}, dlvArgs(sock)...),
		Binds:   p.binds(),
		Ptrace:  true,
	})
	if err != nil {
		return fmt.Errorf("start dlv in a terminal: %w", err)
	}
	term, err := o.Terminals.Get(p.h, info.ID)
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
		if cerr := p.endTerminal(cctx, term); cerr != nil {
			p.log.Warn("dap: end terminal", "err", cerr)
		}
	}()
	c, err = acceptDlv(ctx, ln, term.Done(), func(c *net.UnixConn) error {
		if h := p.m.peerCheckHook; h != nil {
			h()
		}
		return checkPeer(c, term.UID(), term.Owns)
	})
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

// endTerminal ends the terminal dlv runs in and waits until its processes
// are gone or ctx ends.
func (p *proxy) endTerminal(ctx context.Context, t *terminal.Terminal) error {
	err := p.m.opts.Terminals.Delete(ctx, p.h, t.ID())
	if errors.Is(err, terminal.ErrNotFound) {
		// Ended already, or being ended by someone else (its exit
		// delivered, or its workspace stopped): its processes are gone
		// once its reader is done.
		if err := bridge.WaitClosed(ctx, t.Done()); err != nil {
			return fmt.Errorf("end debug terminal: %w", err)
		}
		return nil
	}
	return err
}
