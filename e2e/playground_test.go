package e2e_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPlaygroundShare: /share then /p/{id}.go gives the same bytes; equal
// bodies give equal ids; /fmt formats; CORS is open on the JSON endpoints.
func TestPlaygroundShare(t *testing.T) {
	t.Parallel()
	in := startServer(t)
	body := "package main\n\nfunc main() {}\n"
	r1 := in.call(t, request{Method: "POST", Path: "/share", Body: body}, 200, nil)
	r2 := in.call(t, request{Method: "POST", Path: "/share", Body: body}, 200, nil)
	id := string(r1.Body)
	if id == "" || id != string(r2.Body) {
		t.Fatalf("ids %q and %q", r1.Body, r2.Body)
	}
	got := in.call(t, request{Method: "GET", Path: "/p/" + id + ".go"}, 200, nil)
	if string(got.Body) != body || !strings.HasPrefix(got.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("snippet = %q (%s)", got.Body, got.Header.Get("Content-Type"))
	}
	page := in.call(t, request{Method: "GET", Path: "/p/" + id}, 200, nil)
	if !strings.Contains(page.Header.Get("Content-Security-Policy"), "object-src 'none'") {
		t.Errorf("page CSP = %q", page.Header.Get("Content-Security-Policy"))
	}
	wantError(t, "unknown snippet", in.do(t, request{Method: "GET", Path: "/p/nope.go"}), 404, "not_found")
	wantError(t, "oversized snippet", in.do(t, request{Method: "POST", Path: "/share", Body: strings.Repeat("x", 64<<10+1)}), 413, "too_large")

	var f struct{ Body, Error string }
	resp := in.call(t, request{Method: "POST", Path: "/fmt", Body: "body=package+main%0Afunc+main(){}", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 200, &f)
	if f.Body != "package main\n\nfunc main() {}\n" || f.Error != "" {
		t.Errorf("fmt = %+v", f)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("fmt CORS = %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	pre := in.do(t, request{Method: "OPTIONS", Path: "/compile", Header: map[string]string{"Origin": "https://example.com"}})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
}

// TestWorkspaceShareLink: create, fetch publicly, fork into a second
// tenant's workspace, revoke → 404 at once (AUTH-12, AUTH-13).
func TestWorkspaceShareLink(t *testing.T) {
	t.Parallel()
	in := startServer(t)
	ws := in.createWorkspace(t, in.Token, map[string]any{"name": "demo", "files": map[string]string{"main.go": "package main\n"}})
	var sh struct {
		ID, URL, Access string
		ExpiresAt       *string `json:"expires_at"`
	}
	in.call(t, request{Method: "POST", Path: "/api/v1/workspaces/" + ws.ID + "/shares", Token: in.Token, Body: map[string]any{"access": "view", "expires_in": "168h"}}, 201, &sh)
	if len(sh.ID) < 22 || !strings.HasSuffix(sh.URL, "/s/"+sh.ID) || sh.Access != "view" || sh.ExpiresAt == nil {
		t.Fatalf("share = %+v", sh)
	}
	var pub struct {
		Name  string
		Files map[string]string
	}
	in.call(t, request{Method: "GET", Path: "/api/v1/shares/" + sh.ID}, 200, &pub)
	if pub.Name != "demo" || pub.Files["main.go"] != "package main\n" {
		t.Fatalf("public share = %+v", pub)
	}
	in.call(t, request{Method: "GET", Path: "/s/" + sh.ID}, 200, nil)

	// A share link grants the snapshot, nothing of the live workspace.
	other := in.createToken(t, "other", "bob")
	wantError(t, "live files through a share", in.do(t, request{Method: "GET", Path: filesPath(ws.ID, "main.go"), Token: other.Token}), 404, "not_found")
	wantError(t, "fork without credential", in.do(t, request{Method: "POST", Path: "/api/v1/shares/" + sh.ID + "/fork"}), 401, "unauthorized")
	var fork workspaceJSON
	in.call(t, request{Method: "POST", Path: "/api/v1/shares/" + sh.ID + "/fork", Token: other.Token}, 201, &fork)
	if content, _ := in.getFile(t, other.Token, fork.ID, "main.go"); content != "package main\n" {
		t.Fatalf("forked main.go = %q", content)
	}

	var list struct{ Shares []struct{ ID string } }
	in.call(t, request{Method: "GET", Path: "/api/v1/workspaces/" + ws.ID + "/shares", Token: in.Token}, 200, &list)
	if len(list.Shares) != 1 || list.Shares[0].ID != sh.ID {
		t.Fatalf("list = %+v", list)
	}
	wantError(t, "revoke by another tenant", in.do(t, request{Method: "DELETE", Path: "/api/v1/shares/" + sh.ID, Token: other.Token}), 404, "not_found")
	in.call(t, request{Method: "DELETE", Path: "/api/v1/shares/" + sh.ID, Token: in.Token}, 204, nil)
	wantError(t, "revoked share", in.do(t, request{Method: "GET", Path: "/api/v1/shares/" + sh.ID}), 404, "not_found")
	wantError(t, "revoked page", in.do(t, request{Method: "GET", Path: "/s/" + sh.ID}), 404, "not_found")
	wantError(t, "fork revoked", in.do(t, request{Method: "POST", Path: "/api/v1/shares/" + sh.ID + "/fork", Token: other.Token}), 404, "not_found")
}
