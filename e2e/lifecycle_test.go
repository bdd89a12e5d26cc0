package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRestartKeepsEverything: workspaces, files (with their ETags), UI
// state and issued tokens survive SIGTERM and a new start on the same data
// directory; the fixed --token still works (AV-05: committed writes survive
// a graceful shutdown, and the database reopens).
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	s1 := startServer(t)
	acme := s1.createToken(t, "acme", "alice").Token

	type file struct{ token, ws, path, content, etag string }
	var files []file
	var before []workspaceJSON
	for i, owner := range []string{s1.Token, s1.Token, acme} {
		ws := s1.createWorkspace(t, owner, map[string]any{"name": fmt.Sprintf("ws-%d", i), "template": "hello"})
		for _, p := range []string{"main.go", fmt.Sprintf("dir-%d/file.txt", i), "deep/a/b/c.go"} {
			content := fmt.Sprintf("content of %s in %s\n", p, ws.ID)
			files = append(files, file{owner, ws.ID, p, content, s1.putFile(t, owner, ws.ID, p, content)})
		}
		before = append(before, ws)
	}
	state, stateWS := `{"open":["main.go"],"cursor":{"line":3}}`, before[0].ID
	s1.call(t, request{Method: "PUT", Path: "/api/v1/workspaces/" + stateWS + "/state", Token: s1.Token, Body: []byte(state),
		Header: map[string]string{"Content-Type": "application/json"}}, http.StatusNoContent, nil)
	renamed := s1.call(t, request{Method: "PATCH", Path: "/api/v1/workspaces/" + before[1].ID, Token: s1.Token,
		Body: map[string]string{"name": "renamed"}}, http.StatusOK, nil)
	if err := json.Unmarshal(renamed.Body, &before[1]); err != nil {
		t.Fatal(err)
	}

	if code := s1.Stop(); code != 0 {
		t.Fatalf("first server exit code %d, want 0; stderr:\n%s", code, s1.Stderr())
	}

	s2 := startServerWith(t, serverConfig{Data: s1.Data})
	after := append(s2.listWorkspaces(t, s2.Token), s2.listWorkspaces(t, acme)...)
	byID := func(a, b workspaceJSON) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(before, byID)
	slices.SortFunc(after, byID)
	if len(after) != len(before) {
		t.Fatalf("after restart: %d workspaces, want %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.ID != b.ID || a.Name != b.Name || a.State != b.State || !a.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("workspace after restart = %+v, want %+v", a, b)
		}
	}
	for _, f := range files {
		content, etag := s2.getFile(t, f.token, f.ws, f.path)
		if content != f.content || etag != f.etag {
			t.Errorf("%s/%s after restart: %q etag %q, want %q etag %q", f.ws, f.path, content, etag, f.content, f.etag)
		}
	}
	got := s2.call(t, request{Method: "GET", Path: "/api/v1/workspaces/" + stateWS + "/state", Token: s2.Token}, http.StatusOK, nil)
	if !jsonEqual(t, got.Body, []byte(state)) {
		t.Errorf("UI state after restart = %s, want %s", got.Body, state)
	}
	// The admin-issued token and the fixed one both still work.
	s2.call(t, request{Method: "GET", Path: "/api/v1/me", Token: acme}, http.StatusOK, nil)
	s2.call(t, request{Method: "GET", Path: "/api/v1/me", Token: fixedToken}, http.StatusOK, nil)
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	ea, _ := json.Marshal(va)
	eb, _ := json.Marshal(vb)
	return string(ea) == string(eb)
}

// TestSIGTERMClosesWebSockets (AV-05): SIGTERM with a watch WebSocket open
// exits 0 within a few seconds, and the client sees close code 1001.
func TestSIGTERMClosesWebSockets(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "w"}).ID
	conn, _, err := s.dialWS("/api/v1/workspaces/"+ws+"/watch", bearer(s.Token))
	if err != nil {
		t.Fatalf("dial watch: %v", err)
	}
	w := newWatcher(t, conn)
	w.sync(t, s, s.Token, ws) // the server side is fully set up

	start := time.Now()
	code := s.Stop()
	elapsed := time.Since(start)
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if elapsed > 5*time.Second {
		t.Errorf("shutdown took %v, want under 5s", elapsed)
	}
	for range w.events { // drain; the channel closes when reading ends
	}
	select {
	case err := <-w.err:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("watch ended with %v, want close 1001 (going away)", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("watch WebSocket still open 5s after the server exited")
	}
}

// TestSecondServerSameData: a second server on a data directory in use
// exits non-zero quickly and says why; the first keeps serving.
func TestSecondServerSameData(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	res := runBinary(t, 15*time.Second, nil, "--addr", "127.0.0.1:0", "--data", s.Data, "--token", fixedToken)
	if res.Code == 0 {
		t.Errorf("second server exit code 0, want non-zero; stdout:\n%s", res.Stdout)
	}
	if res.Elapsed > 5*time.Second {
		t.Errorf("second server took %v to give up, want under 5s", res.Elapsed)
	}
	if !strings.Contains(res.Stderr, "is another ideserver using --data") {
		t.Errorf("stderr = %q, want it to mention %q", res.Stderr, "is another ideserver using --data")
	}
	if strings.Contains(res.Stdout, "ideserver listening on") {
		t.Errorf("second server printed a listening line: %q", res.Stdout)
	}
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: s.Token}, http.StatusOK, nil)
}

// TestTokenCLI: `ideserver token create|list|revoke` against a stopped
// server's data directory.
func TestTokenCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	data := s.Data
	if code := s.Stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	created := runBinary(t, 15*time.Second, nil, "token", "create", "--data", data, "--tenant", "t1", "--user", "u1")
	if created.Code != 0 {
		t.Fatalf("token create: exit %d; stderr:\n%s", created.Code, created.Stderr)
	}
	tok := lastLine(created.Stdout)
	if !strings.HasPrefix(tok, "ide_") || strings.ContainsAny(tok, " \t") {
		t.Fatalf("last line of token create = %q, want the token alone", tok)
	}

	s = startServerWith(t, serverConfig{Data: data})
	var me struct {
		Tenant, User string
		Admin        bool
	}
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: tok}, http.StatusOK, &me)
	if me.Tenant != "t1" || me.User != "u1" || me.Admin {
		t.Errorf("me = %+v, want t1/u1 not admin", me)
	}
	ws := s.createWorkspace(t, tok, map[string]any{"name": "cli"})

	// While the server runs, the CLI must refuse quickly, not hang.
	busy := runBinary(t, 15*time.Second, nil, "token", "create", "--data", data, "--tenant", "t1", "--user", "u2")
	if busy.Code == 0 || !strings.Contains(busy.Stderr, "is another ideserver using --data") {
		t.Errorf("token create on a busy data dir: exit %d stderr %q, want failure naming the lock", busy.Code, busy.Stderr)
	}
	if code := s.Stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	listed := runBinary(t, 15*time.Second, nil, "token", "list", "--data", data, "--tenant", "t1")
	if listed.Code != 0 {
		t.Fatalf("token list: exit %d; stderr:\n%s", listed.Code, listed.Stderr)
	}
	var id string
	for _, line := range strings.Split(listed.Stdout, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "u1" {
			id = f[0]
		}
	}
	if id == "" || strings.Contains(listed.Stdout, tok) {
		t.Fatalf("token list output:\n%s\nwant a row for u1 (and no secret)", listed.Stdout)
	}

	revoked := runBinary(t, 15*time.Second, nil, "token", "revoke", "--data", data, "--tenant", "t1", "--id", id)
	if revoked.Code != 0 {
		t.Fatalf("token revoke: exit %d; stderr:\n%s", revoked.Code, revoked.Stderr)
	}
	again := runBinary(t, 15*time.Second, nil, "token", "revoke", "--data", data, "--tenant", "t1", "--id", id)
	if again.Code == 0 {
		t.Error("revoking a revoked token succeeded, want an error")
	}

	s = startServerWith(t, serverConfig{Data: data})
	wantError(t, "revoked CLI token", s.do(t, request{Method: "GET", Path: "/api/v1/me", Token: tok}), http.StatusUnauthorized, "unauthorized")
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: s.Token}, http.StatusOK, nil)
	// The user keeps the workspace made with the revoked token.
	newTok := s.createToken(t, "t1", "u1").Token
	if list := s.listWorkspaces(t, newTok); len(list) != 1 || list[0].ID != ws.ID {
		t.Errorf("u1's workspaces with a new token = %+v, want %s", list, ws.ID)
	}
}
