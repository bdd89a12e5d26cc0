package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads; when
// re is set, its first match in the output is sent on match.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan []string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.re != nil {
		if m := b.re.FindStringSubmatch(b.buf.String()); m != nil {
			b.match <- m
			b.re = nil
		}
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// searchableDataDir returns a new data directory whose ancestors tenant
// uids can pass (t.TempDir makes its directories 0700).
func searchableDataDir(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	for _, d := range []string{filepath.Dir(data), data} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := searchableByOthers(data); err != nil {
		t.Skipf("no data directory tenant uids can reach here: %v", err)
	}
	return data
}

// fakeTools returns IDESERVER_* entries naming stand-in gopls and dlv
// binaries, so serve builds nothing.
func fakeTools(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var env []string
	for key, name := range map[string]string{"IDESERVER_LSP_GOPLS_PATH": "gopls", "IDESERVER_DAP_DLV_PATH": "dlv"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+name+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, key, p)
	}
	return env
}

// served is a serve call running in the background.
type served struct {
	url  string
	logs *syncBuffer
	stop func() error // cancels serve's context and returns its result
}

var listeningLine = regexp.MustCompile(`ideserver listening on (https?://\S+)\n`)

// startServe runs serve with a config from args and env (plus HOME, a
// free port and data) until the test ends or stop is called. It returns
// serve's error when serve ends before listening.
func startServe(t *testing.T, data string, args []string, env ...string) (*served, error) {
	t.Helper()
	home := t.TempDir()
	args = append([]string{"--addr", "127.0.0.1:0", "--data", data, "--token", "test-token-0123456789abcdef"}, args...)
	// Each test server claims its uid range in a lock directory of its
	// own (env may name a shared one), so parallel tests do not refuse
	// each other (SBX-09).
	// No prebuilds: they would build the standard library.
	env = append([]string{"HOME", home, "IDESERVER_ISOLATION_UID_LOCK_DIR", t.TempDir(), "IDESERVER_PLAYGROUND_PREBUILD", "false", "IDESERVER_GO_PREBUILD", "false"}, env...)
	cfg, err := LoadConfig(args, envFunc(baseEnv(env...)), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stdout := &syncBuffer{re: listeningLine, match: make(chan []string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, cfg, logger, stdout) }()
	var once sync.Once
	var result error
	s := &served{logs: logs, stop: func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-errc:
			case <-time.After(30 * time.Second):
				result = errors.New("serve did not return within 30s of cancel")
			}
		})
		return result
	}}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	select {
	case m := <-stdout.match:
		s.url = m[1]
		return s, nil
	case err := <-errc:
		once.Do(func() { cancel(); result = nil })
		return nil, err
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60s; log:\n%s", logs)
		return nil, nil
	}
}

// readyz returns /readyz's status code and body.
func readyz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("readyz body: %v", err)
	}
	return resp.StatusCode, body
}

// TestServeBwrap: with isolation.mode bwrap the server passes the
// self-test, starts, says so in /readyz and the log, publishes the
// configured tools for the sandbox and opens the data directory to tenant
// uids only when it has them.
func TestServeBwrap(t *testing.T) {
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	data := searchableDataDir(t)
	s, err := startServe(t, data, nil, append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "bwrap")...)
	if err != nil {
		t.Fatalf("serve refused: %v", err)
	}
	code, body := readyz(t, s.url)
	if body["isolation"] != "bwrap" {
		t.Errorf("readyz = %d %v, want isolation bwrap", code, body)
	}
	if code != http.StatusOK || body["status"] != "ready" {
		t.Errorf("readyz = %d %v, want 200 ready", code, body)
	}
	if !strings.Contains(s.logs.String(), `"msg":"isolation","mode":"bwrap"`) {
		t.Errorf("the log does not say the mode in force")
	}
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	want := os.FileMode(0o700)
	if os.Geteuid() == 0 {
		want = 0o711
	}
	if fi.Mode().Perm() != want {
		t.Errorf("data directory mode %v, want %v", fi.Mode().Perm(), want)
	}
	if got := mode0(t, filepath.Join(data, "playground")); got != want {
		t.Errorf("playground directory mode %v, want %v", got, want)
	}
	if db := filepath.Join(data, "ideserver.db"); mode0(t, db) != 0o600 {
		t.Errorf("database mode %v, want 0600", mode0(t, db))
	}
	tools, _ := filepath.Glob(filepath.Join(data, "tools", "bin", "gopls-*"))
	if len(tools) != 1 || mode0(t, tools[0]) != 0o755 {
		t.Errorf("published gopls = %v, want one copy, mode 0755", tools)
	}
	entries, _ := filepath.Glob(filepath.Join(data, ".selftest-*"))
	if len(entries) != 0 {
		t.Errorf("self-test directories left: %v", entries)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func mode0(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestServeRefusesWithoutIsolation: mode none in a multi-tenant deployment
// (portal JWTs, or a second tenant in the database) refuses to start and
// says how to fix it; --insecure-no-isolation starts it, /readyz says none.
func TestServeRefusesWithoutIsolation(t *testing.T) {
	t.Parallel()
	secret := writeFile(t, t.TempDir(), "secret", strings.Repeat("k", 40))
	t.Run("jwt", func(t *testing.T) {
		t.Parallel()
		_, err := startServe(t, t.TempDir(), nil, append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "none", "IDESERVER_AUTH_JWT_HMAC_SECRET_FILE", secret)...)
		if !errors.Is(err, errNoIsolation) || !strings.Contains(err.Error(), "--insecure-no-isolation") {
			t.Fatalf("serve = %v, want a refusal naming --insecure-no-isolation", err)
		}
	})
	t.Run("second tenant", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		db, err := store.Open(store.Options{Path: filepath.Join(data, "ideserver.db")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.EnsureUser("acme", "alice"); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		env := append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "none")
		if _, err := startServe(t, data, nil, env...); !errors.Is(err, errNoIsolation) {
			t.Fatalf("serve = %v, want a refusal", err)
		}
		s, err := startServe(t, data, []string{"--insecure-no-isolation"}, env...)
		if err != nil {
			t.Fatalf("serve with --insecure-no-isolation: %v", err)
		}
		if _, body := readyz(t, s.url); body["isolation"] != "none" {
			t.Errorf("readyz = %v, want isolation none", body)
		}
		if !strings.Contains(s.logs.String(), "ISOLATION IS OFF") {
			t.Error("no warning that isolation is off")
		}
		if got := mode0(t, data); got != 0o700 {
			t.Errorf("data directory mode %v, want 0700 without isolation", got)
		}
	})
}

// TestReadyzIsolation: the field is added to /readyz's JSON whatever its
// status; other routes and methods pass through untouched.
func TestReadyzIsolation(t *testing.T) {
	t.Parallel()
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":"unavailable","reasons":{"gopls":"gopls: tool is being prepared"}}`+"\n")
			return
		}
		io.WriteString(w, `{"status":"ok"}`)
	})
	h := withReadyzIsolation(inner, sandbox.IsolationBwrap)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var body struct {
		Status    string
		Reasons   map[string]string
		Isolation string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || body.Status != "unavailable" || body.Isolation != "bwrap" || body.Reasons["gopls"] == "" {
		t.Errorf("readyz = %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Body.String() != `{"status":"ok"}` {
		t.Errorf("healthz = %s, want it untouched", rec.Body)
	}
}

func TestSearchableByOthers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	inner := filepath.Join(private, "data")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	err := searchableByOthers(inner)
	if err == nil || !strings.Contains(err.Error(), private+" (mode 0700) is not searchable") {
		t.Errorf("searchableByOthers = %v, want %s named", err, private)
	}
	if err := os.Chmod(private, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := searchableByOthers(inner); err != nil {
		t.Errorf("searchableByOthers = %v, want nil", err)
	}
}

// A data directory named through a symlink still works in bwrap mode: the
// sandbox opens bind sources without following links (SBX-01), so serve
// resolves the data directory once, at start.
func TestServeBwrapDataSymlink(t *testing.T) {
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	real := searchableDataDir(t)
	link := filepath.Join(filepath.Dir(real), "data-link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s, err := startServe(t, link, nil, append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "bwrap")...)
	if err != nil {
		t.Fatalf("serve refused a data directory named through a symlink: %v", err)
	}
	if code, body := readyz(t, s.url); code != http.StatusOK || body["isolation"] != "bwrap" {
		t.Errorf("readyz = %d %v, want 200 with isolation bwrap", code, body)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}
