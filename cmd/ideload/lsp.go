package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// helloMain is main.go of the hello template, which every workspace
// ideload creates holds; hoverAt points at its Println.
const (
	helloMain = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"Hello, ideserver!\")\n}\n"
	mainURI   = "file:///workspace/main.go"
)

var hoverAt = map[string]any{
	"textDocument": map[string]any{"uri": mainURI},
	"position":     map[string]any{"line": 5, "character": 6},
}

// lspReport is the lsp phase's part of the summary.
type lspReport struct {
	Requested  int   `json:"requested"`
	Opened     int   `json:"opened"`
	Connect    stats `json:"connect"`
	Initialize stats `json:"initialize"`
	// FirstHover is each LSP session's first hover, which waits for gopls
	// to load the module; Hover the hovers after it.
	FirstHover stats `json:"first_hover"`
	Hover      stats `json:"hover"`
	Errors     int   `json:"errors"`
}

// lspConn is one LSP WebSocket: JSON-RPC requests matched to their
// answers by id.
type lspConn struct {
	conn    *websocket.Conn
	timeout time.Duration
	wmu     sync.Mutex // one writer at a time
	mu      sync.Mutex
	nextID  int
	pending map[string]chan rpcMessage
	done    chan struct{} // closed when reading ends
}

type rpcMessage struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// lspPhase opens --lsp LSP sessions, each on main.go of a workspace, and
// asks each for hovers for --duration.
func (l *loader) lspPhase(ctx context.Context) *lspReport {
	c := l.cfg
	r := &lspReport{Requested: c.LSP}
	if len(l.pool) == 0 {
		l.fail.add(phaseLSP, "open LSP sessions", errors.New("no workspace to open them in"))
		r.Errors = l.fail.of(phaseLSP)
		return r
	}
	var connect, initialize, first, hover latencies
	conns := make([]*lspConn, c.LSP)
	l.logf("opening %d LSP sessions", c.LSP)
	forEach(c.LSP, c.Concurrency, func(i int) {
		lc, err := l.openLSP(ctx, l.pool[i%len(l.pool)], &connect, &initialize, &first)
		if err != nil {
			l.fail.add(phaseLSP, "open LSP session", err)
			return
		}
		conns[i] = lc
	})
	l.logf("hovering for %v", c.Duration)
	deadline := time.Now().Add(c.Duration)
	var wg sync.WaitGroup
	for _, lc := range conns {
		if lc == nil {
			continue
		}
		r.Opened++
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := hover.time(func() error { return lc.hover(ctx) }); err != nil {
					l.fail.add(phaseLSP, "hover", err)
					return
				}
				sleep(ctx, c.Interval)
			}
		})
	}
	wg.Wait()
	l.sample(phaseLSP)
	for _, lc := range conns {
		if lc != nil {
			lc.close()
		}
	}
	r.Connect, r.Initialize, r.FirstHover, r.Hover = connect.stats(), initialize.stats(), first.stats(), hover.stats()
	r.Errors = l.fail.of(phaseLSP)
	return r
}

// openLSP connects to ws's language server, initializes it, opens
// main.go and asks for a first hover.
func (l *loader) openLSP(ctx context.Context, ws workspaceRef, connect, initialize, first *latencies) (*lspConn, error) {
	lc := &lspConn{timeout: l.cfg.Timeout, pending: make(map[string]chan rpcMessage), done: make(chan struct{})}
	if err := connect.time(func() (err error) {
		lc.conn, err = l.api.dial(ctx, "/api/v1/workspaces/"+ws.ID+"/lsp", ws.User.Token)
		return err
	}); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	go lc.read()
	err := initialize.time(func() error {
		_, err := lc.call(ctx, "initialize", map[string]any{
			"processId": nil, "rootUri": "file:///workspace",
			"capabilities": map[string]any{"textDocument": map[string]any{
				"hover": map[string]any{"contentFormat": []any{"markdown", "plaintext"}},
			}},
		})
		return err
	})
	if err == nil {
		err = lc.notify("initialized", map[string]any{})
	}
	if err == nil {
		err = lc.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{
			"uri": mainURI, "languageId": "go", "version": 1, "text": helloMain,
		}})
	}
	if err == nil {
		err = first.time(func() error { return lc.hover(ctx) })
	}
	if err != nil {
		lc.close()
		return nil, err
	}
	return lc, nil
}

// hover asks for the hover of Println and wants an answer.
func (lc *lspConn) hover(ctx context.Context) error {
	res, err := lc.call(ctx, "textDocument/hover", hoverAt)
	if err != nil {
		return err
	}
	if len(res) == 0 || string(res) == "null" {
		return errors.New("textDocument/hover: no result")
	}
	return nil
}

func (lc *lspConn) write(v map[string]any) error {
	v["jsonrpc"] = "2.0"
	lc.wmu.Lock()
	defer lc.wmu.Unlock()
	return lc.conn.WriteJSON(v)
}

func (lc *lspConn) notify(method string, params any) error {
	return lc.write(map[string]any{"method": method, "params": params})
}

// call sends a request and waits at most the timeout for its answer.
func (lc *lspConn) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	lc.mu.Lock()
	lc.nextID++
	id := lc.nextID
	ch := make(chan rpcMessage, 1)
	lc.pending[strconv.Itoa(id)] = ch
	lc.mu.Unlock()
	defer func() {
		lc.mu.Lock()
		delete(lc.pending, strconv.Itoa(id))
		lc.mu.Unlock()
	}()
	if err := lc.write(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	timeout := time.NewTimer(lc.timeout)
	defer timeout.Stop()
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("%s: error %d: %s", method, m.Error.Code, m.Error.Message)
		}
		return m.Result, nil
	case <-lc.done:
		return nil, fmt.Errorf("%s: the connection closed", method)
	case <-timeout.C:
		return nil, fmt.Errorf("%s: no answer within %v", method, lc.timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// read hands answers to their callers and answers the server's requests
// with a null result, until the connection ends.
func (lc *lspConn) read() {
	defer close(lc.done)
	for {
		_, data, err := lc.conn.ReadMessage()
		if err != nil {
			return
		}
		var m rpcMessage
		if json.Unmarshal(data, &m) != nil || len(m.ID) == 0 {
			continue // a notification
		}
		if m.Method != "" {
			_ = lc.write(map[string]any{"id": m.ID, "result": nil})
			continue
		}
		lc.mu.Lock()
		ch := lc.pending[string(m.ID)]
		lc.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// close ends the connection and waits for its reader.
func (lc *lspConn) close() {
	lc.wmu.Lock()
	_ = lc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	lc.wmu.Unlock()
	_ = lc.conn.Close()
	<-lc.done
}
