package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// tickCommand prints a line a second until killed.
var tickCommand = []string{"sh", "-c", "while :; do echo tick; sleep 1; done"}

// terminalsReport is the terminals phase's part of the summary.
type terminalsReport struct {
	Requested       int   `json:"requested"`
	Opened          int   `json:"opened"`
	ShellsRequested int   `json:"shells_requested"`
	ShellsOpened    int   `json:"shells_opened"`
	Create          stats `json:"create"`
	Attach          stats `json:"attach"`
	// Echo is the time from a keystroke sent to a shell until its echo
	// arrived.
	Echo stats `json:"echo"`
	// Lines is how many lines the printing terminals' attachments
	// received in all.
	Lines   int64 `json:"lines"`
	Deleted int   `json:"deleted"`
	Delete  stats `json:"delete"`
	Errors  int   `json:"errors"`
}

// attachment is one terminal ideload created and its attachment.
type attachment struct {
	ws    workspaceRef
	id    string
	conn  *websocket.Conn
	lines atomic.Int64
	out   chan []byte   // output frames, for shells; nil for printing terminals
	done  chan struct{} // closed when reading ends
}

// terminalsPhase opens --terminals printing terminals and --shells
// shells, types into the shells for --duration timing each echo, then
// deletes them all (unless --keep).
func (l *loader) terminalsPhase(ctx context.Context) *terminalsReport {
	c := l.cfg
	r := &terminalsReport{Requested: c.Terminals, ShellsRequested: c.Shells}
	if len(l.pool) == 0 {
		l.fail.add(phaseTerminals, "open terminals", errors.New("no workspace to open them in"))
		r.Errors = l.fail.of(phaseTerminals)
		return r
	}
	var create, attach, echo, del latencies
	// The shells first: when the server's terminal limits refuse part of
	// the load, the echo is still measured.
	all := make([]*attachment, c.Shells+c.Terminals)
	shells, ticks := all[:c.Shells], all[c.Shells:]
	l.logf("opening %d shells and %d terminals", c.Shells, c.Terminals)
	open := func(as []*attachment, first int, cmd []string, what string) {
		forEach(len(as), c.Concurrency, func(i int) {
			a, err := l.openTerminal(ctx, l.pool[(first+i)%len(l.pool)], cmd, &create, &attach)
			if err != nil {
				l.fail.add(phaseTerminals, "open "+what, err)
				return
			}
			as[i] = a
		})
	}
	open(shells, 0, nil, "shell")
	open(ticks, c.Shells, tickCommand, "terminal")
	r.Opened, r.ShellsOpened = countOpen(ticks), countOpen(shells)

	l.logf("typing into %d shells for %v", r.ShellsOpened, c.Duration)
	deadline := time.Now().Add(c.Duration)
	var wg sync.WaitGroup
	for _, a := range shells {
		if a != nil {
			wg.Go(func() { l.typeInto(ctx, a, deadline, &echo) })
		}
	}
	wg.Wait()
	if d := time.Until(deadline); d > 0 { // no shell: the printing terminals still run for --duration
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	l.sample(phaseTerminals)
	for _, a := range ticks {
		if a == nil {
			continue
		}
		if n := a.lines.Load(); n == 0 {
			l.fail.add(phaseTerminals, "printing terminal", fmt.Errorf("no line received in %v", c.Duration))
		} else {
			r.Lines += n
		}
	}

	var deleted atomic.Int64
	forEach(len(all), c.Concurrency, func(i int) {
		a := all[i]
		if a == nil {
			return
		}
		defer a.close()
		if c.Keep {
			return
		}
		err := del.time(func() error {
			return l.api.call(context.WithoutCancel(ctx), "DELETE", "/api/v1/workspaces/"+a.ws.ID+"/terminals/"+a.id, a.ws.User.Token, nil, http.StatusNoContent, nil)
		})
		if err != nil {
			l.fail.add(phaseTerminals, "delete terminal", err)
			return
		}
		deleted.Add(1)
	})
	r.Deleted = int(deleted.Load())
	r.Create, r.Attach, r.Echo, r.Delete = create.stats(), attach.stats(), echo.stats(), del.stats()
	r.Errors = l.fail.of(phaseTerminals)
	return r
}

func countOpen(as []*attachment) int {
	n := 0
	for _, a := range as {
		if a != nil {
			n++
		}
	}
	return n
}

// openTerminal creates a terminal running cmd (nil: the shell) in ws and
// attaches to it, timing both steps.
func (l *loader) openTerminal(ctx context.Context, ws workspaceRef, cmd []string, create, attach *latencies) (*attachment, error) {
	base := "/api/v1/workspaces/" + ws.ID + "/terminals"
	body := map[string]any{"cols": 80, "rows": 24}
	if cmd != nil {
		body["command"] = cmd
	}
	var term struct {
		ID string `json:"id"`
	}
	if err := create.time(func() error {
		return l.api.call(ctx, "POST", base, ws.User.Token, body, http.StatusCreated, &term)
	}); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	a := &attachment{ws: ws, id: term.ID, done: make(chan struct{})}
	if cmd == nil {
		a.out = make(chan []byte, 1024)
	}
	if err := attach.time(func() (err error) {
		a.conn, err = l.api.dial(ctx, base+"/"+term.ID+"/attach", ws.User.Token)
		return err
	}); err != nil {
		_ = l.api.call(ctx, "DELETE", base+"/"+term.ID, ws.User.Token, nil, http.StatusNoContent, nil)
		return nil, fmt.Errorf("attach: %w", err)
	}
	go l.readTerminal(a)
	return a, nil
}

// readTerminal reads a's output until the connection ends, counting
// lines and handing frames to a shell's typist.
func (l *loader) readTerminal(a *attachment) {
	defer close(a.done)
	for {
		typ, data, err := a.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			a.lines.Add(int64(bytes.Count(data, []byte{'\n'})))
			if a.out != nil {
				select {
				case a.out <- data:
				default: // nobody is waiting for output now
				}
			}
			continue
		}
		var m struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(data, &m); err == nil && m.Type == "error" {
			l.fail.add(phaseTerminals, "terminal control message", errors.New(m.Message))
		}
	}
}

// close closes the attachment and waits for its reader.
func (a *attachment) close() {
	_ = a.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = a.conn.Close()
	<-a.done
}

// echoKeys are the keystrokes typed, one at a time.
const echoKeys = "abcdefghijklmnopqrstuvwxyz"

// killLine is Ctrl-U, which clears the shell's line (sent every
// len(echoKeys) keystrokes so that the line never wraps).
const killLine = 0x15

// typeInto waits for a's prompt, then until deadline sends one key every
// --interval and times its echo.
func (l *loader) typeInto(ctx context.Context, a *attachment, deadline time.Time, echo *latencies) {
	if err := l.waitOutput(ctx, a, nil); err != nil {
		l.fail.add(phaseTerminals, "shell prompt", err)
		return
	}
	l.settle(ctx, a)
	for k := 0; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
		if k > 0 && k%len(echoKeys) == 0 {
			if err := a.conn.WriteMessage(websocket.BinaryMessage, []byte{killLine}); err != nil {
				l.fail.add(phaseTerminals, "type", err)
				return
			}
			l.settle(ctx, a)
		}
		key := echoKeys[k%len(echoKeys)]
		drain(a.out)
		start := time.Now()
		if err := a.conn.WriteMessage(websocket.BinaryMessage, []byte{key}); err != nil {
			l.fail.add(phaseTerminals, "type", err)
			return
		}
		if err := l.waitOutput(ctx, a, func(b []byte) bool { return bytes.IndexByte(b, key) >= 0 }); err != nil {
			l.fail.add(phaseTerminals, "keystroke echo", err)
			return
		}
		echo.add(time.Since(start))
		sleep(ctx, l.cfg.Interval)
	}
}

// waitOutput waits at most --timeout for an output frame of a that
// matches (nil: any).
func (l *loader) waitOutput(ctx context.Context, a *attachment, match func([]byte) bool) error {
	timeout := time.NewTimer(l.cfg.Timeout)
	defer timeout.Stop()
	for {
		select {
		case b := <-a.out:
			if match == nil || match(b) {
				return nil
			}
		case <-a.done:
			return errors.New("the terminal closed")
		case <-timeout.C:
			return fmt.Errorf("no output within %v", l.cfg.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settle lets a shell finish its output (a prompt, a cleared line) and
// drops it.
func (l *loader) settle(ctx context.Context, a *attachment) {
	sleep(ctx, 200*time.Millisecond)
	drain(a.out)
}

// drain drops the frames waiting in ch.
func drain(ch chan []byte) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
