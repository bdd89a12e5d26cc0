package e2e_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestTwoTenants: the admin issues tokens for two tenants; each sees only
// its own workspaces, and the other's are 404 whatever the route.
func TestTwoTenants(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	acme := s.createToken(t, "acme", "alice").Token
	globex := s.createToken(t, "globex", "bob").Token

	wsA := s.createWorkspace(t, acme, map[string]any{"name": "acme-hello", "template": "hello"})
	wsG := s.createWorkspace(t, globex, map[string]any{"name": "globex-files", "files": map[string]string{
		"go.mod":  "module globex\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}})

	for _, tc := range []struct {
		name  string
		token string
		want  []string
	}{
		{"acme", acme, []string{wsA.ID}},
		{"globex", globex, []string{wsG.ID}},
		{"local admin", s.Token, nil},
	} {
		t.Run("list "+tc.name, func(t *testing.T) {
			var ids []string
			for _, ws := range s.listWorkspaces(t, tc.token) {
				ids = append(ids, ws.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("workspaces = %v, want %v", ids, tc.want)
			}
		})
	}

	t.Run("template hello", func(t *testing.T) {
		names := listNames(t, s, acme, wsA.ID, "")
		if !slices.Contains(names, "go.mod") || !slices.Contains(names, "main.go") {
			t.Errorf("hello workspace root = %v, want go.mod and main.go", names)
		}
		if body, _ := s.getFile(t, acme, wsA.ID, "main.go"); !strings.HasPrefix(body, "package main") {
			t.Errorf("hello main.go = %q, want a main package", body)
		}
	})

	t.Run("explicit files", func(t *testing.T) {
		if body, _ := s.getFile(t, globex, wsG.ID, "go.mod"); body != "module globex\n\ngo 1.26\n" {
			t.Errorf("go.mod = %q", body)
		}
	})

	// acme's credential on globex's workspace: every route answers 404,
	// as if it did not exist.
	ws := "/api/v1/workspaces/" + wsG.ID
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", ws, nil},
		{"PATCH", ws, map[string]string{"name": "mine"}},
		{"GET", ws + "/files/", nil},
		{"GET", ws + "/files/main.go", nil},
		{"PUT", ws + "/files/main.go", []byte("package stolen\n")},
		{"DELETE", ws + "/files/main.go", nil},
		{"POST", ws + "/fs/mkdir", map[string]string{"path": "x"}},
		{"POST", ws + "/fs/rename", map[string]string{"from": "main.go", "to": "x.go"}},
		{"GET", ws + "/search?q=main", nil},
		{"GET", ws + "/state", nil},
		{"POST", ws + "/suspend", nil},
		{"DELETE", ws, nil},
	} {
		t.Run("cross-tenant "+tc.method+" "+strings.TrimPrefix(tc.path, ws), func(t *testing.T) {
			resp := s.do(t, request{Method: tc.method, Path: tc.path, Token: acme, Body: tc.body})
			wantError(t, tc.method+" "+tc.path, resp, http.StatusNotFound, "not_found")
		})
	}
	if body, _ := s.getFile(t, globex, wsG.ID, "main.go"); body != "package main\n\nfunc main() {}\n" {
		t.Errorf("globex main.go after acme's attempts = %q", body)
	}
	if got := s.listWorkspaces(t, globex); len(got) != 1 || got[0].Name != "globex-files" {
		t.Errorf("globex workspaces after acme's attempts = %+v", got)
	}
}

// TestFileRoundTrips covers the files API: PUT, GET with ETag,
// If-None-Match, If-Match, listing, mkdir, rename, delete and search.
func TestFileRoundTrips(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.createToken(t, "acme", "alice").Token
	ws := s.createWorkspace(t, tok, map[string]any{"name": "files"}).ID
	const content = "package util\n\n// Needle is found by search.\nvar Needle = 1\n"

	etag := s.putFile(t, tok, ws, "pkg/util/util.go", content)

	t.Run("GET returns bytes and ETag", func(t *testing.T) {
		resp := s.call(t, request{Method: "GET", Path: filesPath(ws, "pkg/util/util.go"), Token: tok}, http.StatusOK, nil)
		if string(resp.Body) != content {
			t.Errorf("body = %q, want %q", resp.Body, content)
		}
		if got := resp.Header.Get("ETag"); got != etag {
			t.Errorf("ETag = %q, want %q (from PUT)", got, etag)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id header")
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		resp := s.do(t, request{Method: "GET", Path: filesPath(ws, "pkg/util/util.go"), Token: tok, Header: map[string]string{"If-None-Match": etag}})
		if resp.StatusCode != http.StatusNotModified || len(resp.Body) != 0 {
			t.Errorf("status %d body %q, want 304 and no body", resp.StatusCode, resp.Body)
		}
	})
	t.Run("If-Match mismatch is 412", func(t *testing.T) {
		resp := s.do(t, request{Method: "PUT", Path: filesPath(ws, "pkg/util/util.go"), Token: tok, Body: []byte("lost update"),
			Header: map[string]string{"If-Match": `"not-the-etag"`}})
		wantError(t, "PUT If-Match", resp, http.StatusPreconditionFailed, "precondition_failed")
		if body, got := s.getFile(t, tok, ws, "pkg/util/util.go"); body != content || got != etag {
			t.Errorf("after 412: content %q etag %q, want unchanged", body, got)
		}
	})
	t.Run("If-Match match writes", func(t *testing.T) {
		resp := s.call(t, request{Method: "PUT", Path: filesPath(ws, "pkg/util/util.go"), Token: tok, Body: []byte(content + "\n"),
			Header: map[string]string{"If-Match": etag}}, http.StatusOK, nil)
		if newTag := resp.Header.Get("ETag"); newTag == "" || newTag == etag {
			t.Errorf("new ETag %q, want a different one than %q", newTag, etag)
		}
		etag = s.putFile(t, tok, ws, "pkg/util/util.go", content) // back to known content
	})
	t.Run("listing", func(t *testing.T) {
		var list listing
		s.call(t, request{Method: "GET", Path: filesPath(ws, "pkg/util"), Token: tok}, http.StatusOK, &list)
		if len(list.Entries) != 1 || list.Entries[0].Name != "util.go" || list.Entries[0].Type != "file" ||
			list.Entries[0].Size != int64(len(content)) || list.Entries[0].MTime == "" {
			t.Errorf("pkg/util listing = %+v, want util.go, file, %d bytes, an mtime", list.Entries, len(content))
		}
		root := entriesOf(t, s, tok, ws, "")
		if root["pkg"] != "dir" {
			t.Errorf("root listing = %v, want pkg as dir", root)
		}
	})
	t.Run("mkdir", func(t *testing.T) {
		s.call(t, request{Method: "POST", Path: "/api/v1/workspaces/" + ws + "/fs/mkdir", Token: tok, Body: map[string]string{"path": "docs"}}, http.StatusCreated, nil)
		resp := s.do(t, request{Method: "POST", Path: "/api/v1/workspaces/" + ws + "/fs/mkdir", Token: tok, Body: map[string]string{"path": "docs"}})
		wantError(t, "mkdir twice", resp, http.StatusConflict, "already_exists")
		if got := entriesOf(t, s, tok, ws, "")["docs"]; got != "dir" {
			t.Errorf("docs is %q, want dir", got)
		}
	})
	t.Run("rename", func(t *testing.T) {
		s.call(t, request{Method: "POST", Path: "/api/v1/workspaces/" + ws + "/fs/rename", Token: tok,
			Body: map[string]string{"from": "pkg/util/util.go", "to": "docs/util.go"}}, http.StatusOK, nil)
		wantError(t, "GET old name", s.do(t, request{Method: "GET", Path: filesPath(ws, "pkg/util/util.go"), Token: tok}), http.StatusNotFound, "not_found")
		if body, got := s.getFile(t, tok, ws, "docs/util.go"); body != content || got != etag {
			t.Errorf("renamed file: %q %q, want same content and ETag", body, got)
		}
	})
	t.Run("search", func(t *testing.T) {
		s.putFile(t, tok, ws, "notes.txt", "needle one\nno match\nNEEDLE two\n")
		for _, tc := range []struct {
			name, query   string
			wantPaths     []string
			wantTruncated bool
		}{
			{"case-insensitive by default", "q=needle", []string{"docs/util.go", "docs/util.go", "notes.txt", "notes.txt"}, false},
			{"case-sensitive", "q=needle&case=true", []string{"notes.txt"}, false},
			{"regex", "q=N%5Be%5Dedle%20%3D&regex=true&case=true", []string{"docs/util.go"}, false},
			{"max", "q=needle&max=1", []string{"docs/util.go"}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := search(t, s, tok, ws, tc.query)
				var paths []string
				for _, m := range res.Matches {
					paths = append(paths, m.Path)
				}
				if !slices.Equal(paths, tc.wantPaths) || res.Truncated != tc.wantTruncated {
					t.Errorf("matches %+v truncated %v, want paths %v truncated %v", res.Matches, res.Truncated, tc.wantPaths, tc.wantTruncated)
				}
			})
		}
		res := search(t, s, tok, ws, "q=needle&case=true")
		if len(res.Matches) == 1 {
			if m := res.Matches[0]; m.Line != 1 || m.Column != 1 || m.Text != "needle one" {
				t.Errorf("match = %+v, want line 1 column 1 text %q", m, "needle one")
			}
		}
		res = search(t, s, tok, ws, "q=Needle%20%3D&case=true")
		if len(res.Matches) != 1 || res.Matches[0].Line != 4 || res.Matches[0].Column != 5 {
			t.Errorf("matches = %+v, want docs/util.go line 4 column 5", res.Matches)
		}
		wantError(t, "empty query", s.do(t, request{Method: "GET", Path: "/api/v1/workspaces/" + ws + "/search?q=", Token: tok}), http.StatusBadRequest, "invalid_query")
	})
	t.Run("delete", func(t *testing.T) {
		resp := s.do(t, request{Method: "DELETE", Path: filesPath(ws, "docs"), Token: tok})
		wantError(t, "DELETE non-empty dir", resp, http.StatusConflict, "directory_not_empty")
		s.call(t, request{Method: "DELETE", Path: filesPath(ws, "docs") + "?recursive=true", Token: tok}, http.StatusNoContent, nil)
		wantError(t, "GET deleted", s.do(t, request{Method: "GET", Path: filesPath(ws, "docs/util.go"), Token: tok}), http.StatusNotFound, "not_found")
		s.call(t, request{Method: "DELETE", Path: filesPath(ws, "notes.txt"), Token: tok}, http.StatusNoContent, nil)
		if root := entriesOf(t, s, tok, ws, ""); root["docs"] != "" || root["notes.txt"] != "" {
			t.Errorf("root after deletes = %v", root)
		}
	})
	t.Run("invalid paths", func(t *testing.T) {
		for _, p := range []string{"%2e%2e/etc/passwd", "a/%2e%2e/%2e%2e/x", "/etc/passwd", "a%00b"} {
			resp := s.do(t, request{Method: "GET", Path: filesPath(ws, p), Token: tok})
			wantError(t, "GET files/"+p, resp, http.StatusBadRequest, "invalid_path")
			resp = s.do(t, request{Method: "PUT", Path: filesPath(ws, p), Token: tok, Body: []byte("x")})
			wantError(t, "PUT files/"+p, resp, http.StatusBadRequest, "invalid_path")
		}
		resp := s.do(t, request{Method: "POST", Path: "/api/v1/workspaces/" + ws + "/fs/rename", Token: tok,
			Body: map[string]string{"from": "pkg", "to": "../escaped"}})
		wantError(t, "rename to ../", resp, http.StatusBadRequest, "invalid_path")
	})
}

// TestAdminTokens: token list and revoke through the admin API; a tenant
// token is not an admin credential.
func TestAdminTokens(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.createToken(t, "acme", "alice")
	other := s.createToken(t, "acme", "carol")

	var me struct {
		Tenant, User string
		Admin        bool
	}
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: tok.Token}, http.StatusOK, &me)
	if me.Tenant != "acme" || me.User != "alice" || me.Admin {
		t.Errorf("me = %+v, want acme/alice, not admin", me)
	}
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: s.Token}, http.StatusOK, &me)
	if me.Tenant != "local" || me.User != "local" || !me.Admin {
		t.Errorf("me (local token) = %+v, want local/local admin", me)
	}

	resp := s.do(t, request{Method: "POST", Path: "/api/v1/admin/tenants/acme/tokens", Token: tok.Token, Body: map[string]string{"user": "mallory"}})
	wantError(t, "tenant token on admin route", resp, http.StatusForbidden, "admin_required")
	resp = s.do(t, request{Method: "GET", Path: "/api/v1/admin/tenants/acme/tokens"})
	wantError(t, "admin route without credential", resp, http.StatusUnauthorized, "unauthorized")

	list := s.call(t, request{Method: "GET", Path: "/api/v1/admin/tenants/acme/tokens", Token: s.Token}, http.StatusOK, nil)
	var tokens struct {
		Tokens []map[string]any `json:"tokens"`
	}
	if err := json.Unmarshal(list.Body, &tokens); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tk := range tokens.Tokens {
		ids = append(ids, tk["id"].(string))
		if _, leaked := tk["token"]; leaked {
			t.Errorf("token list shows a secret: %v", tk)
		}
	}
	slices.Sort(ids)
	want := []string{tok.ID, other.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("acme token ids = %v, want %v", ids, want)
	}
	if strings.Contains(string(list.Body), tok.Token) {
		t.Error("token list contains a token secret")
	}

	s.call(t, request{Method: "DELETE", Path: "/api/v1/admin/tenants/acme/tokens/" + tok.ID, Token: s.Token}, http.StatusNoContent, nil)
	wantError(t, "revoked token", s.do(t, request{Method: "GET", Path: "/api/v1/me", Token: tok.Token}), http.StatusUnauthorized, "unauthorized")
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: other.Token}, http.StatusOK, nil)
	wantError(t, "revoke again", s.do(t, request{Method: "DELETE", Path: "/api/v1/admin/tenants/acme/tokens/" + tok.ID, Token: s.Token}), http.StatusNotFound, "not_found")
	wantError(t, "revoke through another tenant", s.do(t, request{Method: "DELETE", Path: "/api/v1/admin/tenants/globex/tokens/" + other.ID, Token: s.Token}), http.StatusNotFound, "not_found")
	s.call(t, request{Method: "GET", Path: "/api/v1/me", Token: other.Token}, http.StatusOK, nil)
	wantError(t, "bad bearer", s.do(t, request{Method: "GET", Path: "/api/v1/me", Token: "ide_notatoken"}), http.StatusUnauthorized, "unauthorized")
}

type listing struct {
	Entries []struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Size  int64  `json:"size"`
		MTime string `json:"mtime"`
	} `json:"entries"`
}

// entriesOf lists dir and returns name → type.
func entriesOf(t *testing.T, s *instance, token, ws, dir string) map[string]string {
	t.Helper()
	var list listing
	s.call(t, request{Method: "GET", Path: filesPath(ws, dir), Token: token}, http.StatusOK, &list)
	out := map[string]string{}
	for _, e := range list.Entries {
		out[e.Name] = e.Type
	}
	return out
}

func listNames(t *testing.T, s *instance, token, ws, dir string) []string {
	t.Helper()
	var names []string
	for name := range entriesOf(t, s, token, ws, dir) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

type searchResult struct {
	Matches []struct {
		Path   string `json:"path"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
		Text   string `json:"text"`
	} `json:"matches"`
	Truncated bool `json:"truncated"`
}

func search(t *testing.T, s *instance, token, ws, query string) searchResult {
	t.Helper()
	var res searchResult
	s.call(t, request{Method: "GET", Path: "/api/v1/workspaces/" + ws + "/search?" + query, Token: token}, http.StatusOK, &res)
	return res
}
