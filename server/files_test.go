package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/server"
)

func (h *harness) filesURL(workspaceID, rel string) string {
	return "/api/v1/workspaces/" + workspaceID + "/files/" + rel
}

func readDisk(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	return string(data)
}

func TestFilesHTTP(t *testing.T) {
	t.Parallel()
	const maxFile = 8 << 10
	h := newHarness(t, func(o *server.Options) { o.Limits.MaxFileSize = maxFile })
	tok := bearer(h.tokA)
	dir := h.wsDir(h.wsA)

	t.Run("round trip with ETag and If-Match", func(t *testing.T) {
		put := h.do("PUT", h.filesURL(h.wsA, "pkg/new.go"), []byte("package pkg\n"), tok, withHeader("Content-Type", "application/octet-stream"))
		wantStatus(t, "PUT creates parents", put, http.StatusOK)
		etag := decode[struct {
			ETag string `json:"etag"`
		}](t, put).ETag
		if etag == "" || put.Header.Get("ETag") != etag {
			t.Fatalf("PUT etag %q, header %q", etag, put.Header.Get("ETag"))
		}
		get := h.do("GET", h.filesURL(h.wsA, "pkg/new.go"), nil, tok)
		wantStatus(t, "GET", get, http.StatusOK)
		if string(get.Body) != "package pkg\n" || get.Header.Get("ETag") != etag || get.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET = %q etag %q type %q", get.Body, get.Header.Get("ETag"), get.Header.Get("Content-Type"))
		}

		stale := h.do("PUT", h.filesURL(h.wsA, "pkg/new.go"), []byte("lost update"), tok, withHeader("If-Match", `"not-the-etag"`))
		wantError(t, "If-Match mismatch", stale, http.StatusPreconditionFailed, "precondition_failed")
		if got := readDisk(t, filepath.Join(dir, "pkg/new.go")); got != "package pkg\n" {
			t.Errorf("content after 412: %q", got)
		}
		ok := h.do("PUT", h.filesURL(h.wsA, "pkg/new.go"), []byte("package pkg // v2\n"), tok, withHeader("If-Match", etag))
		wantStatus(t, "If-Match match", ok, http.StatusOK)
		if got := readDisk(t, filepath.Join(dir, "pkg/new.go")); got != "package pkg // v2\n" {
			t.Errorf("content after matching If-Match: %q", got)
		}
		wantStatus(t, "If-None-Match", h.do("GET", h.filesURL(h.wsA, "pkg/new.go"), nil, tok, withHeader("If-None-Match", ok.Header.Get("ETag"))), http.StatusNotModified)
	})

	t.Run("413 over MaxFileSize", func(t *testing.T) {
		r := h.do("PUT", h.filesURL(h.wsA, "main.go"), bytes.Repeat([]byte("x"), maxFile+1), tok)
		wantError(t, "big PUT", r, http.StatusRequestEntityTooLarge, "too_large")
		if got := readDisk(t, filepath.Join(dir, "main.go")); got != initialA["main.go"] {
			t.Errorf("main.go after 413: %q", got)
		}
		wantStatus(t, "PUT at the limit", h.do("PUT", h.filesURL(h.wsA, "big.bin"), bytes.Repeat([]byte("x"), maxFile), tok), http.StatusOK)
	})

	t.Run("directory listing", func(t *testing.T) {
		r := h.do("GET", h.filesURL(h.wsA, ""), nil, tok)
		wantStatus(t, "root listing", r, http.StatusOK)
		var raw map[string][]map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &raw); err != nil || len(raw) != 1 || raw["entries"] == nil {
			t.Fatalf("listing %s is not {\"entries\":[...]}: %v", r, err)
		}
		byName := map[string]map[string]json.RawMessage{}
		for _, e := range raw["entries"] {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range e {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(keys, []string{"mtime", "name", "size", "type"}) {
				t.Errorf("entry keys %v, want name,type,size,mtime", keys)
			}
			var name string
			_ = json.Unmarshal(e["name"], &name)
			byName[name] = e
		}
		for name, want := range map[string]string{"main.go": `"file"`, "dir": `"dir"`, "go.mod": `"file"`} {
			e, ok := byName[name]
			if !ok {
				t.Errorf("listing lacks %s", name)
				continue
			}
			if string(e["type"]) != want {
				t.Errorf("%s type %s, want %s", name, e["type"], want)
			}
			var mt time.Time
			if err := json.Unmarshal(e["mtime"], &mt); err != nil || mt.IsZero() {
				t.Errorf("%s mtime %s: %v", name, e["mtime"], err)
			}
		}
		if string(byName["main.go"]["size"]) != strconv.Itoa(len(initialA["main.go"])) {
			t.Errorf("main.go size %s", byName["main.go"]["size"])
		}
		sub := h.do("GET", h.filesURL(h.wsA, "dir"), nil, tok)
		wantStatus(t, "subdirectory listing", sub, http.StatusOK)
		if !bytes.Contains(sub.Body, []byte(`"name":"sub.txt"`)) {
			t.Errorf("dir listing %s", sub)
		}
		wantError(t, "missing file", h.do("GET", h.filesURL(h.wsA, "nope.go"), nil, tok), http.StatusNotFound, "not_found")
	})

	t.Run("delete", func(t *testing.T) {
		for _, f := range []string{"del/a.txt", "del/b/c.txt"} {
			wantStatus(t, "PUT "+f, h.do("PUT", h.filesURL(h.wsA, f), []byte(f), tok), http.StatusOK)
		}
		wantError(t, "non-empty dir", h.do("DELETE", h.filesURL(h.wsA, "del"), nil, tok), http.StatusConflict, "directory_not_empty")
		if _, err := os.Stat(filepath.Join(dir, "del/b/c.txt")); err != nil {
			t.Fatalf("refused delete removed something: %v", err)
		}
		wantStatus(t, "recursive", h.do("DELETE", h.filesURL(h.wsA, "del")+"?recursive=true", nil, tok), http.StatusNoContent)
		if _, err := os.Stat(filepath.Join(dir, "del")); !os.IsNotExist(err) {
			t.Errorf("del still exists: %v", err)
		}
		wantError(t, "workspace root", h.do("DELETE", h.filesURL(h.wsA, "")+"?recursive=true", nil, tok), http.StatusBadRequest, "invalid_path")
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			t.Errorf("root delete removed files: %v", err)
		}
	})

	t.Run("mkdir", func(t *testing.T) {
		url := "/api/v1/workspaces/" + h.wsA + "/fs/mkdir"
		wantStatus(t, "mkdir", h.do("POST", url, []byte(`{"path":"newdir"}`), tok), http.StatusCreated)
		if fi, err := os.Stat(filepath.Join(dir, "newdir")); err != nil || !fi.IsDir() {
			t.Fatalf("newdir: %v", err)
		}
		wantError(t, "mkdir again", h.do("POST", url, []byte(`{"path":"newdir"}`), tok), http.StatusConflict, "already_exists")
		wantError(t, "mkdir over a file", h.do("POST", url, []byte(`{"path":"main.go"}`), tok), http.StatusConflict, "already_exists")
		wantError(t, "mkdir ..", h.do("POST", url, []byte(`{"path":"../escape"}`), tok), http.StatusBadRequest, "invalid_path")
		if _, err := os.Stat(filepath.Join(h.wsRoot, "escape")); !os.IsNotExist(err) {
			t.Errorf("mkdir escaped the workspace: %v", err)
		}
	})

	t.Run("rename", func(t *testing.T) {
		url := "/api/v1/workspaces/" + h.wsA + "/fs/rename"
		for f, c := range map[string]string{"r/one.txt": "one", "r/two.txt": "two"} {
			wantStatus(t, "PUT", h.do("PUT", h.filesURL(h.wsA, f), []byte(c), tok), http.StatusOK)
		}
		wantError(t, "rename onto existing", h.do("POST", url, []byte(`{"from":"r/one.txt","to":"r/two.txt"}`), tok), http.StatusConflict, "already_exists")
		if readDisk(t, filepath.Join(dir, "r/one.txt")) != "one" || readDisk(t, filepath.Join(dir, "r/two.txt")) != "two" {
			t.Error("collision changed a file")
		}
		wantStatus(t, "rename", h.do("POST", url, []byte(`{"from":"r/one.txt","to":"r/three.txt"}`), tok), http.StatusOK)
		if readDisk(t, filepath.Join(dir, "r/three.txt")) != "one" {
			t.Error("renamed content")
		}
		if _, err := os.Stat(filepath.Join(dir, "r/one.txt")); !os.IsNotExist(err) {
			t.Errorf("old name still there: %v", err)
		}
		wantError(t, "rename missing", h.do("POST", url, []byte(`{"from":"r/none.txt","to":"r/x.txt"}`), tok), http.StatusNotFound, "not_found")
		wantError(t, "rename out", h.do("POST", url, []byte(`{"from":"r/two.txt","to":"../two.txt"}`), tok), http.StatusBadRequest, "invalid_path")
	})

	t.Run("search", func(t *testing.T) {
		for _, f := range []string{"s/1.txt", "s/2.txt", "s/3.txt"} {
			wantStatus(t, "PUT", h.do("PUT", h.filesURL(h.wsA, f), []byte("first line\n  findme here\n"), tok), http.StatusOK)
		}
		type match struct {
			Path   string `json:"path"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
			Text   string `json:"text"`
		}
		type answer struct {
			Matches   []match `json:"matches"`
			Truncated *bool   `json:"truncated"`
		}
		url := "/api/v1/workspaces/" + h.wsA + "/search?q=findme"
		r := h.do("GET", url, nil, tok)
		wantStatus(t, "search", r, http.StatusOK)
		var a answer
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil || a.Truncated == nil {
			t.Fatalf("search answer %s: %v", r, err)
		}
		if len(a.Matches) != 3 || *a.Truncated {
			t.Fatalf("search: %d matches, truncated %v; want 3, false", len(a.Matches), *a.Truncated)
		}
		if m := a.Matches[0]; !strings.HasPrefix(m.Path, "s/") || m.Line != 2 || m.Column != 3 || !strings.Contains(m.Text, "findme") {
			t.Errorf("match %+v, want s/N.txt line 2 column 3", m)
		}
		r = h.do("GET", url+"&max=2", nil, tok)
		a = decode[answer](t, r)
		if len(a.Matches) != 2 || a.Truncated == nil || !*a.Truncated {
			t.Errorf("max=2: %s", r)
		}
		r = h.do("GET", "/api/v1/workspaces/"+h.wsA+"/search?q=nothing-matches-this", nil, tok)
		if !bytes.Contains(r.Body, []byte(`"matches":[]`)) {
			t.Errorf("no matches: %s, want an empty array", r)
		}
		wantError(t, "bad regex", h.do("GET", "/api/v1/workspaces/"+h.wsA+"/search?q=(&regex=true", nil, tok), http.StatusBadRequest, "invalid_query")
		wantError(t, "bad bool", h.do("GET", "/api/v1/workspaces/"+h.wsA+"/search?q=x&case=maybe", nil, tok), http.StatusBadRequest, "invalid_query")
	})
}

// TestPathsInURL is PATH-01, PATH-02 and PATH-05 through the URL: refused
// with 400 invalid_path, never redirected, never cleaned.
func TestPathsInURL(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := "/api/v1/workspaces/" + h.wsA
	paths := []string{
		base + "/files/../x",
		base + "/files/a/../../x",
		base + "/files/%2e%2e/x",
		base + "/files/%2E%2E/%2e%2e/x",
		base + "/files/a%00b",
		base + "/files//etc/passwd",
		base + "/files/a%5c..%5cb",
		base + "/files/./x",
		base + "/files/a/..",
		base + "/files/a/b//",
		base + "/files/a//",
		base + "/files/a%0ab",
		base + "/files/C:%5cwindows",
		base + "/files/" + strings.Repeat("n", 256),
		"/api/v1/workspaces/../workspaces/" + h.wsA + "/files/main.go",
		"/api//v1/workspaces",
	}
	before := snapshot(t, h.dataDir+"/workspaces")
	auth := "Bearer " + h.tokA
	for _, p := range paths {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			name := m + " " + p
			if len(name) > 80 {
				name = name[:80]
			}
			t.Run(name, func(t *testing.T) {
				r := h.raw(m, p, []byte("escaped"), "Authorization", auth, "Content-Type", "application/octet-stream")
				if r.Status/100 == 3 {
					t.Fatalf("raw: redirect %s to %q", r, r.Header.Get("Location"))
				}
				wantError(t, "raw", r, http.StatusBadRequest, "invalid_path")

				// The same through net/http's client, with the path kept
				// verbatim (Opaque) and redirects not followed.
				req, err := http.NewRequest(m, h.ts.URL, bytes.NewReader([]byte("escaped")))
				if err != nil {
					t.Fatal(err)
				}
				req.URL.Opaque = "//" + h.host + p
				req.Header.Set("Authorization", auth)
				wantError(t, "client", h.send(req), http.StatusBadRequest, "invalid_path")
			})
		}
	}
	// A trailing slash names a directory: GET lists it, writes refuse it.
	if r := h.raw("GET", base+"/files/a/b/", nil, "Authorization", auth); r.Status != http.StatusNotFound {
		t.Errorf("GET of a missing directory with a trailing slash: %s, want 404", r)
	}
	for _, m := range []string{"PUT", "DELETE"} {
		wantError(t, m+" trailing slash", h.raw(m, base+"/files/a/b/", []byte("x"), "Authorization", auth), http.StatusBadRequest, "invalid_path")
	}
	after := snapshot(t, h.dataDir+"/workspaces")
	sameSnapshot(t, "workspaces after bad paths", before, after)
	if _, err := os.Stat(filepath.Join(h.dataDir, "x")); !os.IsNotExist(err) {
		t.Errorf("a file appeared in the data directory: %v", err)
	}
	// The CSP header is on these early refusals too (EMB-01).
	r := h.raw("GET", base+"/files/../x", nil, "Authorization", auth)
	if csp := r.Header.Get("Content-Security-Policy"); csp != "frame-ancestors 'self' "+portal {
		t.Errorf("invalid_path answer CSP %q", csp)
	}
}

// TestSymlinkEscape is PATH-03 through the API: a tenant-made symlink
// pointing outside its workspace reads and writes nothing outside.
func TestSymlinkEscape(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	outside := t.TempDir()
	const secret = "top secret outside the workspace\n"
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := h.wsDir(h.wsA)
	links := map[string]string{
		"outdir":   outside,                                    // absolute, to a directory
		"outfile":  filepath.Join(outside, "secret.txt"),       // absolute, to a file
		"up":       "../..",                                    // relative, to the data directory
		"other-ws": filepath.Join("..", h.wsB),                 // relative, to tenant B's workspace
		"chain":    "outdir",                                   // a chain through another link
		"dangling": filepath.Join(outside, "not-yet-here.txt"), // O_CREAT through a dangling link
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	outsideBefore := snapshot(t, outside)
	bBefore := snapshot(t, h.wsDir(h.wsB))
	tok := bearer(h.tokA)

	for _, p := range []string{"outdir/secret.txt", "outfile", "up/ideserver.db", "other-ws/main.go", "chain/secret.txt", "outdir", "up", "dangling"} {
		r := h.do("GET", h.filesURL(h.wsA, p), nil, tok)
		wantError(t, "GET "+p, r, http.StatusBadRequest, "invalid_path")
		if r.Status == http.StatusOK && !bytes.HasPrefix(r.Body, []byte(`{"entries":`)) || bytes.Contains(r.Body, []byte("secret")) || bytes.Contains(r.Body, []byte("package main")) {
			t.Errorf("GET %s through a symlink read outside: %s", p, r)
		}
		if r.Status == http.StatusOK && bytes.Contains(r.Body, []byte("secret.txt")) {
			t.Errorf("GET %s listed a directory outside: %s", p, r)
		}
	}
	for _, p := range []string{"outdir/new.txt", "chain/new.txt", "up/new.txt", "other-ws/main.go", "other-ws/new.go"} {
		r := h.do("PUT", h.filesURL(h.wsA, p), []byte("written through a link"), tok)
		wantError(t, "PUT "+p, r, http.StatusBadRequest, "invalid_path")
	}
	// A PUT on the link itself replaces the link, never its target.
	for _, p := range []string{"outfile", "dangling"} {
		r := h.do("PUT", h.filesURL(h.wsA, p), []byte("replaced"), tok)
		if r.Status == http.StatusOK {
			if fi, err := os.Lstat(filepath.Join(dir, p)); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("PUT %s answered 200 but the link is not a regular file now: %v", p, err)
			}
		}
	}
	for _, body := range []string{`{"from":"main.go","to":"outdir/stolen.go"}`, `{"from":"outfile","to":"inside.txt"}`} {
		h.do("POST", "/api/v1/workspaces/"+h.wsA+"/fs/rename", []byte(body), tok)
	}
	h.do("POST", "/api/v1/workspaces/"+h.wsA+"/fs/mkdir", []byte(`{"path":"outdir/made"}`), tok)
	h.do("DELETE", h.filesURL(h.wsA, "outdir/secret.txt"), nil, tok)
	h.do("DELETE", h.filesURL(h.wsA, "other-ws/main.go"), nil, tok)

	sameSnapshot(t, "outside directory", outsideBefore, snapshot(t, outside))
	sameSnapshot(t, "tenant B's workspace", bBefore, snapshot(t, h.wsDir(h.wsB)))
	if _, err := os.Stat(filepath.Join(h.dataDir, "new.txt")); !os.IsNotExist(err) {
		t.Errorf("new.txt appeared in the data directory: %v", err)
	}
	r := h.do("GET", "/api/v1/workspaces/"+h.wsA+"/search?q=secret", nil, tok)
	if bytes.Contains(r.Body, []byte("top secret")) {
		t.Errorf("search followed a link outside: %s", r)
	}
}

// TestRequestErrors checks JSON decoding errors and that no error body
// shows a host path, including a 500.
func TestRequestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := bearer(h.tokA)
	before := h.workspaceCount("a", "a1")
	for _, tc := range []struct {
		name   string
		body   []byte
		ctype  string
		status int
		code   string
	}{
		{"malformed", []byte(`{"name":`), "application/json", 400, "invalid_json"},
		{"not an object", []byte(`[1,2]`), "application/json", 400, "invalid_json"},
		{"unknown field", []byte(`{"nam":"x"}`), "application/json", 400, "invalid_json"},
		{"wrong type", []byte(`{"name":5}`), "application/json", 400, "invalid_json"},
		{"wrong content type", []byte(`{"name":"x"}`), "text/plain", 415, "unsupported_media_type"},
		{"form content type", []byte(`name=x`), "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"trailing data", []byte(`{"name":"x"} {}`), "application/json", 400, "invalid_json"},
		{"trailing garbage", []byte(`{"name":"x"}garbage`), "application/json", 400, "invalid_json"},
		{"empty body", []byte{}, "application/json", 400, "invalid_json"},
		{"bad file path", []byte(`{"name":"x","files":{"../evil.go":"x"}}`), "application/json", 400, "invalid_path"},
		{"bad template", []byte(`{"name":"x","template":"nope"}`), "application/json", 400, "unknown_template"},
		{"bad name", []byte("{\"name\":\"a\\u0000b\"}"), "application/json", 400, "invalid_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/workspaces", tc.body, tok, withHeader("Content-Type", tc.ctype))
			wantError(t, tc.name, r, tc.status, tc.code)
		})
	}
	if n := h.workspaceCount("a", "a1"); n != before {
		t.Errorf("refused creates made workspaces: %d -> %d", before, n)
	}
	if entries, err := os.ReadDir(h.wsRoot); err != nil || len(entries) != 2 {
		t.Errorf("workspace directories after refused creates: %d, %v", len(entries), err)
	}
	wantError(t, "oversized JSON", h.do("PUT", "/api/v1/workspaces/"+h.wsA+"/state", bytes.Repeat([]byte(" "), 2<<20), tok), http.StatusRequestEntityTooLarge, "too_large")
	wantError(t, "unknown route", h.do("GET", "/api/v1/nope", nil, tok), http.StatusNotFound, "not_found")
	wantError(t, "foreign Host", h.do("GET", "/api/v1/me", nil, tok, func(r *http.Request) { r.Host = "evil.com" }), http.StatusForbidden, "host_not_allowed")

	// A workspace whose directory vanished under the server is a 500 that
	// names nothing of the host.
	h.logs.allowErrors("request failed")
	if err := os.RemoveAll(h.wsDir(h.wsA)); err != nil {
		t.Fatal(err)
	}
	r := h.do("GET", h.filesURL(h.wsA, "main.go"), nil, tok)
	wantError(t, "vanished directory", r, http.StatusInternalServerError, "internal")
	for _, leak := range []string{h.wsA + "/", "/workspaces", "no such file"} {
		if bytes.Contains(r.Body, []byte(leak)) {
			t.Errorf("500 body holds %q: %s", leak, r)
		}
	}
}

// TestStateRoundTrip covers the opaque UI state.
func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *server.Options) { o.Limits.MaxStateSize = 1 << 10 })
	tok := bearer(h.tokA)
	url := "/api/v1/workspaces/" + h.wsA + "/state"
	if r := h.do("GET", url, nil, tok); r.Status != 200 || strings.TrimSpace(string(r.Body)) != "null" {
		t.Errorf("initial state %s, want null", r)
	}
	wantStatus(t, "PUT state", h.do("PUT", url, []byte(`{"tabs":["main.go"]}`), tok), http.StatusNoContent)
	if r := h.do("GET", url, nil, tok); string(r.Body) != `{"tabs":["main.go"]}` {
		t.Errorf("state %s", r)
	}
	wantError(t, "invalid JSON state", h.do("PUT", url, []byte(`{"tabs":`), tok), http.StatusBadRequest, "invalid_json")
	wantError(t, "oversized state", h.do("PUT", url, []byte(`"`+strings.Repeat("x", 2<<10)+`"`), tok), http.StatusRequestEntityTooLarge, "too_large")
	if r := h.do("GET", url, nil, tok); string(r.Body) != `{"tabs":["main.go"]}` {
		t.Errorf("state after refused PUTs %s", r)
	}
}
