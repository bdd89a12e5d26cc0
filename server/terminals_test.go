package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/terminal"
)

// newTerminals returns a real terminal.Manager for o's workspaces, whose
// handles start its processes (the harness's runner, without isolation),
// closed when the test ends (before the harness's runner, whose cleanup is
// registered earlier).
func newTerminals(tb testing.TB, o *server.Options, mutate ...func(*terminal.Options)) *terminal.Manager {
	tb.Helper()
	var opts terminal.Options
	for _, f := range mutate {
		f(&opts)
	}
	m, err := terminal.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitShort)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			tb.Errorf("close terminals: %v", err)
		}
	})
	return m
}

func newTerminalHarness(t *testing.T, mutate ...func(*terminal.Options)) (*harness, *terminal.Manager) {
	var m *terminal.Manager
	h := newHarness(t, func(o *server.Options) {
		m = newTerminals(t, o, mutate...)
		o.Terminals = m
	})
	return h, m
}

// TestTerminalRoutes: TTY-09 (creation takes cols, rows and command
// only; shell, env and cwd are refused), TTY-11 (another tenant's
// workspace terminals cannot be created, listed or deleted).
func TestTerminalRoutes(t *testing.T) {
	h, _ := newTerminalHarness(t, func(o *terminal.Options) { o.MaxPerWorkspace = 2 })
	base := "/api/v1/workspaces/" + h.wsA + "/terminals"

	r := h.do("POST", base, []byte(`{"cols":100,"rows":30,"command":["sleep","1000"]}`), bearer(h.tokA))
	wantStatus(t, "create", r, http.StatusCreated)
	created := decode[terminal.Info](t, r)
	if created.ID == "" || created.Cols != 100 || created.Rows != 30 {
		t.Errorf("created %+v", created)
	}
	if !strings.Contains(string(r.Body), `"created_at"`) || strings.Contains(string(r.Body), `"exit_code"`) {
		t.Errorf("created body %s: want created_at, and no exit_code while running", r.Body)
	}
	for _, body := range []string{`{"shell":"/bin/sh"}`, `{"env":{"A":"b"}}`, `{"cwd":"/"}`, `{"cols":"x"}`, `[`} {
		wantError(t, "create "+body, h.do("POST", base, []byte(body), bearer(h.tokA)), http.StatusBadRequest, "invalid_json")
	}

	// Each error of the terminal manager, caused for real, and its answer.
	for _, c := range []struct {
		what, body string
		status     int
		code       string
	}{
		{"size", `{"cols":5000,"rows":5}`, http.StatusBadRequest, "invalid_size"},
		{"empty command", `{"command":[""]}`, http.StatusBadRequest, "invalid_command"},
		{"unknown program", `{"command":["no-such-program-` + strconv.Itoa(os.Getpid()) + `"]}`, http.StatusBadRequest, "invalid_command"},
	} {
		wantError(t, c.what, h.do("POST", base, []byte(c.body), bearer(h.tokA)), c.status, c.code)
	}
	// A start that fails for a reason the server does not map (the
	// program exists but cannot be executed): 500, and nothing of the
	// cause (a host path) in the answer (h.do checks every body for host
	// paths).
	dir := filepath.Join(h.wsRoot, h.wsA)
	if err := os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.logs.allowErrors("request failed")
	r = h.do("POST", base, []byte(`{"command":["./noexec"]}`), bearer(h.tokA))
	wantError(t, "start failure", r, http.StatusInternalServerError, "internal")
	// A workspace whose directory is gone is not found: the handle
	// (workspace.Manager.Open) refuses it before any start.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	r = h.do("POST", base, []byte(`{"command":["sleep","1000"]}`), bearer(h.tokA))
	wantError(t, "workspace directory gone", r, http.StatusNotFound, "not_found")
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}

	// An empty body takes the defaults; then the workspace is full.
	r = h.do("POST", base, nil, bearer(h.tokA))
	wantStatus(t, "create with empty body", r, http.StatusCreated)
	if got := decode[terminal.Info](t, r); got.Cols != terminal.DefaultCols || got.Rows != terminal.DefaultRows {
		t.Errorf("empty body created %dx%d, want the defaults %dx%d", got.Cols, got.Rows, terminal.DefaultCols, terminal.DefaultRows)
	}
	r = h.do("POST", base, []byte(`{}`), bearer(h.tokA))
	wantError(t, "over the limit", r, http.StatusTooManyRequests, "too_many_terminals")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After (AV-03: every 429 has one)")
	}

	// Another tenant: 404 for the workspace, before the manager is asked.
	wantError(t, "other tenant create", h.do("POST", base, nil, bearer(h.tokB)), http.StatusNotFound, "not_found")
	wantError(t, "other tenant list", h.do("GET", base, nil, bearer(h.tokB)), http.StatusNotFound, "not_found")
	wantError(t, "other tenant delete", h.do("DELETE", base+"/"+created.ID, nil, bearer(h.tokB)), http.StatusNotFound, "not_found")
	wantError(t, "no credential", h.do("GET", base, nil), http.StatusUnauthorized, "unauthorized")

	r = h.do("GET", base, nil, bearer(h.tokA))
	wantStatus(t, "list", r, http.StatusOK)
	if l := decode[struct{ Terminals []terminal.Info }](t, r); len(l.Terminals) != 2 {
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
	h, _ := newTerminalHarness(t, func(o *terminal.Options) { o.MaxInput = 1024 })
	base := "/api/v1/workspaces/" + h.wsA + "/terminals"
	createCat := func() string {
		r := h.do("POST", base, []byte(`{"command":["cat"]}`), bearer(h.tokA))
		wantStatus(t, "create", r, http.StatusCreated)
		return decode[terminal.Info](t, r).ID
	}
	id := createCat()
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
	if m, _ := rd.next(t); m.typ != websocket.BinaryMessage || !strings.Contains(string(m.data), "ls") {
		t.Errorf("echo = %d %q", m.typ, m.data)
	}
	// End of input: cat exits 0; its output first, then the exit message.
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte("\x04")); err != nil {
		t.Fatal(err)
	}
	m, _ := rd.next(t)
	for m.typ == websocket.BinaryMessage {
		m, _ = rd.next(t)
	}
	if m.typ != websocket.TextMessage || string(m.data) != `{"type":"exit","code":0}` {
		t.Errorf("exit = %d %q", m.typ, m.data)
	}
	if err := rd.closed(t); !websocket.IsCloseError(err, websocket.CloseNormalClosure) || !strings.Contains(err.Error(), "terminal exited") {
		t.Errorf("close after exit = %v, want 1000 terminal exited", err)
	}

	// Input too large (over terminal.Options.MaxInput, within the
	// server's WebSocket read limit): 1009.
	conn, _ = h.dial(base+"/"+createCat()+"/attach", hdr("Authorization", "Bearer "+h.tokA), nil)
	rd = readAll(t, conn)
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte(strings.Repeat("x", 2048))); err != nil {
		t.Fatal(err)
	}
	if err := rd.closed(t); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) || !strings.Contains(err.Error(), "input message too big") {
		t.Errorf("close after big input = %v, want 1009 input message too big", err)
	}
	h.waitNoSockets()
}
