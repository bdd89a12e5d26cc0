package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/server"
)

// fakeTerminals is a TerminalService whose terminals echo input.
type fakeTerminals struct {
	mu      sync.Mutex
	created []server.TerminalRequest
	byWS    map[string][]server.TerminalInfo // owner/workspace → terminals
	next    int
	fail    error // returned by CreateTerminal when set
}

func (f *fakeTerminals) CreateTerminal(_ context.Context, owner, ws string, req server.TerminalRequest) (server.TerminalInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return server.TerminalInfo{}, f.fail
	}
	f.created = append(f.created, req)
	f.next++
	t := server.TerminalInfo{ID: fmt.Sprintf("t%d", f.next), Cols: req.Cols, Rows: req.Rows, CreatedAt: time.Now().UTC()}
	f.byWS[owner+"/"+ws] = append(f.byWS[owner+"/"+ws], t)
	return t, nil
}

func (f *fakeTerminals) ListTerminals(owner, ws string) ([]server.TerminalInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byWS[owner+"/"+ws], nil
}

func (f *fakeTerminals) find(owner, ws, id string) int {
	for i, t := range f.byWS[owner+"/"+ws] {
		if t.ID == id {
			return i
		}
	}
	return -1
}

func (f *fakeTerminals) DeleteTerminal(_ context.Context, owner, ws, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(owner, ws, id)
	if i < 0 {
		return fmt.Errorf("delete: %w", server.ErrTerminalNotFound)
	}
	k := owner + "/" + ws
	f.byWS[k] = append(f.byWS[k][:i], f.byWS[k][i+1:]...)
	return nil
}

func (f *fakeTerminals) AttachTerminal(owner, ws, id string) (server.TerminalAttachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(owner, ws, id) < 0 {
		return nil, server.ErrTerminalNotFound
	}
	return echoAttachment{}, nil
}

// echoAttachment echoes binary input; text "exit" ends it normally,
// text "big" as if the input were too large.
type echoAttachment struct{}

func (echoAttachment) Serve(ctx context.Context, conn server.TerminalConn) error {
	for {
		binary, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if binary {
			if err := conn.WriteMessage(true, data); err != nil {
				return err
			}
			continue
		}
		switch string(data) {
		case "exit":
			return conn.WriteMessage(false, []byte(`{"type":"exit","code":0}`))
		case "big":
			return fmt.Errorf("read: %w", server.ErrTerminalInputTooLarge)
		}
	}
}

func newTerminalHarness(t *testing.T) (*harness, *fakeTerminals) {
	f := &fakeTerminals{byWS: map[string][]server.TerminalInfo{}}
	h := newHarness(t, func(o *server.Options) { o.Terminals = f })
	return h, f
}

// TestTerminalRoutes: TTY-09 (creation takes cols, rows and command
// only; shell, env and cwd are refused), TTY-11 (another tenant's
// workspace terminals cannot be created, listed or deleted).
func TestTerminalRoutes(t *testing.T) {
	h, f := newTerminalHarness(t)
	base := "/api/v1/workspaces/" + h.wsA + "/terminals"

	r := h.do("POST", base, []byte(`{"cols":100,"rows":30,"command":["go","test"]}`), bearer(h.tokA))
	wantStatus(t, "create", r, http.StatusCreated)
	created := decode[server.TerminalInfo](t, r)
	if created.ID == "" || created.Cols != 100 {
		t.Errorf("created %+v", created)
	}
	wantStatus(t, "create with empty body", h.do("POST", base, nil, bearer(h.tokA)), http.StatusCreated)
	if got := f.created[1]; got.Cols != 0 || got.Rows != 0 || got.Command != nil {
		t.Errorf("empty body passed %+v, want zero (defaults)", got)
	}
	for _, body := range []string{`{"shell":"/bin/sh"}`, `{"env":{"A":"b"}}`, `{"cwd":"/"}`, `{"cols":"x"}`, `[`} {
		wantError(t, "create "+body, h.do("POST", base, []byte(body), bearer(h.tokA)), http.StatusBadRequest, "invalid_json")
	}

	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{server.ErrTerminalLimit, http.StatusTooManyRequests, "too_many_terminals"},
		{server.ErrTerminalSize, http.StatusBadRequest, "invalid_size"},
		{server.ErrTerminalInvalid, http.StatusBadRequest, "invalid_command"},
		{errors.New("boom /host/path"), http.StatusInternalServerError, "internal"},
	} {
		f.mu.Lock()
		f.fail = fmt.Errorf("create: %w", c.err)
		f.mu.Unlock()
		if c.status == http.StatusInternalServerError {
			h.logs.allowErrors("request failed")
		}
		r := h.do("POST", base, []byte(`{}`), bearer(h.tokA))
		wantError(t, c.err.Error(), r, c.status, c.code)
		if ra := r.Header.Get("Retry-After"); (c.status == http.StatusTooManyRequests) != (ra != "") {
			t.Errorf("%v: Retry-After %q (AV-03: every 429 has one)", c.err, ra)
		}
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()

	// Another tenant: 404 for the workspace, before the service is asked.
	wantError(t, "other tenant create", h.do("POST", base, nil, bearer(h.tokB)), http.StatusNotFound, "not_found")
	wantError(t, "other tenant list", h.do("GET", base, nil, bearer(h.tokB)), http.StatusNotFound, "not_found")
	wantError(t, "other tenant delete", h.do("DELETE", base+"/"+created.ID, nil, bearer(h.tokB)), http.StatusNotFound, "not_found")
	wantError(t, "no credential", h.do("GET", base, nil), http.StatusUnauthorized, "unauthorized")

	r = h.do("GET", base, nil, bearer(h.tokA))
	wantStatus(t, "list", r, http.StatusOK)
	if l := decode[struct{ Terminals []server.TerminalInfo }](t, r); len(l.Terminals) != 2 {
		t.Errorf("list = %+v", l)
	}
	r = h.do("GET", "/api/v1/workspaces/"+h.wsB+"/terminals", nil, bearer(h.tokB))
	wantStatus(t, "empty list", r, http.StatusOK)
	if string(r.Body) != "{\"terminals\":[]}\n" {
		t.Errorf("empty list body %s", r.Body)
	}
	wantStatus(t, "delete", h.do("DELETE", base+"/"+created.ID, nil, bearer(h.tokA)), http.StatusNoContent)
	wantError(t, "delete again", h.do("DELETE", base+"/"+created.ID, nil, bearer(h.tokA)), http.StatusNotFound, "not_found")
}

// TestTerminalAttach: TTY-11, another tenant cannot attach to a
// terminal id (404). Terminals are not shared with viewers (there is no
// read-only attachment to get wrong); every attachment is the owner's.
func TestTerminalAttach(t *testing.T) {
	h, _ := newTerminalHarness(t)
	base := "/api/v1/workspaces/" + h.wsA + "/terminals"
	r := h.do("POST", base, nil, bearer(h.tokA))
	wantStatus(t, "create", r, http.StatusCreated)
	id := decode[server.TerminalInfo](t, r).ID
	path := base + "/" + id + "/attach"

	if _, res := h.dial(base+"/nope/attach", hdr("Authorization", "Bearer "+h.tokA), nil); res.Status != http.StatusNotFound {
		t.Errorf("unknown terminal: %d, want 404", res.Status)
	}
	if _, res := h.dial("/api/v1/workspaces/"+h.wsA+"/terminals/"+id+"/attach", hdr("Authorization", "Bearer "+h.tokB), nil); res.Status != http.StatusNotFound {
		t.Errorf("other tenant's attach: %d, want 404", res.Status)
	}
	if _, res := h.dial(path, hdr("Authorization", "Bearer "+h.tokA, "Origin", "https://evil.example"), nil); res.Status != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", res.Status)
	}

	// A bearer client without Origin; echo, then a normal end.
	conn, _ := h.dial(path, hdr("Authorization", "Bearer "+h.tokA), nil)
	rd := readAll(t, conn)
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte("ls\n")); err != nil {
		t.Fatal(err)
	}
	if m, _ := rd.next(t); m.typ != websocket.BinaryMessage || string(m.data) != "ls\n" {
		t.Errorf("echo = %d %q", m.typ, m.data)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("exit")); err != nil {
		t.Fatal(err)
	}
	if m, _ := rd.next(t); m.typ != websocket.TextMessage || string(m.data) != `{"type":"exit","code":0}` {
		t.Errorf("exit = %d %q", m.typ, m.data)
	}
	if err := rd.closed(t); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("close after exit = %v, want 1000", err)
	}

	// Input too large: 1009.
	conn, _ = h.dial(path, hdr("Authorization", "Bearer "+h.tokA), nil)
	rd = readAll(t, conn)
	if err := conn.WriteMessage(websocket.TextMessage, []byte("big")); err != nil {
		t.Fatal(err)
	}
	if err := rd.closed(t); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("close after big input = %v, want 1009", err)
	}
	h.waitNoSockets()
}
