package lsp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

const (
	waitShort = 15 * time.Second // bound for events that normally take milliseconds
	waitLong  = 60 * time.Second // bound for real gopls work
	fakeEnv   = "LSPTEST_FAKE_GOPLS"
)

var instance = "lsptest-" + strconv.Itoa(os.Getpid())

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" {
		os.Exit(fakeGopls())
	}
	code := m.Run()
	if code == 0 {
		if left := marked(); len(left) > 0 {
			fmt.Fprintln(os.Stderr, "processes survived their Manager:", left)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// env is a test's host layout: a data directory with one workspace and a
// tenant's directories.
type env struct {
	data        string
	workspaceID string
	dirs        workspace.HomeDirs
	goroot      string
	fake        bool
	extraEnv    []string
	runner      *sandbox.Runner // newManagerWith's
	// binds returns the binds of a workspace's processes under
	// bubblewrap (isolate's); nil without isolation.
	binds func(workspaceID string) []sandbox.Bind
}

// target is the workspace workspaceID of e as owner sees it, served by
// e's runner.
func (e *env) target(owner, workspaceID string) lsp.Target {
	var binds []sandbox.Bind
	if e.binds != nil {
		binds = e.binds(workspaceID)
	}
	return lsp.Target{
		Binds:  binds,
		Key:    bridge.Key{Owner: owner, WorkspaceID: workspaceID},
		Dir:    e.Dir(workspaceID),
		Env:    func(extra ...string) ([]string, error) { return e.ProcessEnv(owner, extra...) },
		Runner: e.runner,
		GoRoot: e.goroot,
		Home:   e.dirs,
		Redact: []string{e.data},
	}
}

func (e *env) Dir(id string) string { return filepath.Join(e.data, "workspaces", id) }

func (e *env) ProcessEnv(owner string, extra ...string) ([]string, error) {
	out := []string{
		"HOME=" + e.dirs.Home,
		"GOPATH=" + e.dirs.GoPath,
		"GOMODCACHE=" + e.dirs.GoModCache,
		"GOCACHE=" + e.dirs.GoCache,
		"GOTELEMETRY=off",
		"GO_TELEMETRY_CHILD=2",
		"GOPROXY=off",
		"GOTOOLCHAIN=local",
		"PATH=" + filepath.Join(e.goroot, "bin") + ":/usr/bin:/bin",
	}
	if e.goroot != "" {
		out = append(out, "GOROOT="+e.goroot)
	}
	if e.fake {
		out = append(out, fakeEnv+"=1")
	}
	out = append(out, e.extraEnv...)
	return append(out, extra...), nil
}

func (e *env) HomeDirs(string) (workspace.HomeDirs, error) { return e.dirs, nil }

// newEnv makes a data directory holding workspace "ws1" with files.
func newEnv(t testing.TB, files map[string]string) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), files)
}

// newEnvIn is newEnv in the data directory data.
func newEnvIn(t testing.TB, data string, files map[string]string) *env {
	t.Helper()
	e := &env{
		data:        data,
		workspaceID: "ws1",
		dirs: workspace.HomeDirs{ // the server's layout: everything in HOME
			Home:       filepath.Join(data, "tenants", "t1", "users", "u1", "home"),
			GoPath:     filepath.Join(data, "tenants", "t1", "users", "u1", "home", "go"),
			GoModCache: filepath.Join(data, "tenants", "t1", "users", "u1", "home", "go", "pkg", "mod"),
			GoCache:    filepath.Join(data, "tenants", "t1", "users", "u1", "home", ".cache", "go-build"),
		},
		goroot: goRoot(t),
	}
	for _, d := range []string{e.dirs.Home, e.dirs.GoModCache, e.dirs.GoCache, e.Dir(e.workspaceID)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		p := filepath.Join(e.Dir(e.workspaceID), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

var (
	goRootOnce sync.Once
	goRootDir  string
)

func goRoot(t testing.TB) string {
	goRootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err == nil {
			goRootDir = strings.TrimSpace(string(out))
		}
	})
	if goRootDir == "" {
		t.Fatal("no go command")
	}
	return goRootDir
}

var (
	goplsOnce sync.Once
	goplsPath string
	goplsErr  error
)

// requireGopls returns the pinned gopls binary: fails when CI is set and it
// is unavailable, skips otherwise.
func requireGopls(t testing.TB) string {
	t.Helper()
	goplsOnce.Do(func() {
		dir, err := filepath.Abs("../tools")
		if err != nil {
			goplsErr = err
			return
		}
		cmd := exec.Command("go", "tool", "-n", "gopls")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			goplsErr = err
			return
		}
		goplsPath = strings.TrimSpace(string(out))
	})
	if goplsErr != nil || goplsPath == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("gopls unavailable: %v", goplsErr)
		}
		t.Skipf("gopls unavailable: %v", goplsErr)
	}
	return goplsPath
}

// newManager builds a Manager over e with a runner that the test closes.
func newManager(t testing.TB, e *env, gopls string, tweak func(*lsp.Options)) *lsp.Manager {
	t.Helper()
	runner, err := sandbox.New(sandbox.Options{Instance: instance, KillGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return newManagerWith(t, runner, e, gopls, tweak)
}

// newManagerWith is newManager over runner, which it closes with the
// Manager.
func newManagerWith(t testing.TB, runner *sandbox.Runner, e *env, gopls string, tweak func(*lsp.Options)) *lsp.Manager {
	t.Helper()
	watchers := workspace.NewWatchers(workspace.WatcherOptions{})
	e.runner = runner
	opts := lsp.Options{
		Watchers:       watchers,
		GoplsPath:      func(context.Context) (string, error) { return gopls, nil },
		RestartBackoff: 20 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&opts)
	}
	m, err := lsp.NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close(context.Background())
		_ = watchers.Close()
		_ = runner.Close()
	})
	return m
}

// fakeGopls is a tiny LSP server on stdio for the proxy's tests.
func fakeGopls() int {
	cwd, _ := os.Getwd()
	r := bufio.NewReader(os.Stdin)
	var mu sync.Mutex
	send := func(v any) {
		b, _ := json.Marshal(v)
		mu.Lock()
		defer mu.Unlock()
		_ = bridge.WriteFrame(os.Stdout, b)
	}
	sendRaw := func(b []byte) { // as is: no re-encoding
		mu.Lock()
		defer mu.Unlock()
		_ = bridge.WriteFrame(os.Stdout, b)
	}
	docs := map[string]string{}
	inits := 0
	initialized := false
	cwdURI := "file://" + cwd
	for {
		body, err := bridge.ReadFrame(r, 64<<20)
		if err != nil {
			return 0
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(body, &m) != nil {
			continue
		}
		reply := func(result any) {
			send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
		}
		var p struct {
			TextDocument struct {
				URI  string `json:"uri"`
				Text string `json:"text"`
			} `json:"textDocument"`
			ContentChanges []struct {
				Text string `json:"text"`
			} `json:"contentChanges"`
		}
		_ = json.Unmarshal(m.Params, &p)
		switch m.Method {
		case "initialize":
			inits++
			var ip map[string]any
			_ = json.Unmarshal(m.Params, &ip)
			reply(map[string]any{"capabilities": map[string]any{"hoverProvider": true}, "params": ip})
		case "initialized":
			initialized = true
			send(map[string]any{"jsonrpc": "2.0", "id": 9001, "method": "client/registerCapability", "params": map[string]any{
				"registrations": []any{map[string]any{"id": "w", "method": "workspace/didChangeWatchedFiles"}},
			}})
		case "textDocument/didOpen":
			docs[p.TextDocument.URI] = p.TextDocument.Text
			send(map[string]any{"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": map[string]any{
				"uri": p.TextDocument.URI, "diagnostics": []any{map[string]any{"message": "problem in " + cwd + "/main.go"}},
			}})
		case "textDocument/didChange":
			// the fake only supports full changes
			if len(p.ContentChanges) > 0 {
				docs[p.TextDocument.URI] = p.ContentChanges[len(p.ContentChanges)-1].Text
			}
		case "textDocument/hover":
			reply(map[string]any{"contents": map[string]any{"kind": "markdown", "value": "[x](" + cwdURI + "/main.go) at " + cwd + " and " + p.TextDocument.URI}})
		case "textDocument/completion":
			reply(fakeCompletion())
		case "textDocument/definition":
			reply([]any{map[string]any{"uri": cwdURI + "/main.go", "range": map[string]any{}}})
		case "fake/state":
			reply(map[string]any{"docs": docs, "inits": inits, "initialized": initialized, "pid": os.Getpid()})
		case "fake/garbage":
			mu.Lock()
			_, _ = os.Stdout.WriteString("Content-Length: 99999999999\r\n\r\n")
			mu.Unlock()
		case "fake/crash":
			os.Exit(3)
		case "fake/slow":
			// never answered
		case "fake/applyEdit":
			send(map[string]any{"jsonrpc": "2.0", "id": 9002, "method": "workspace/applyEdit", "params": map[string]any{
				"edit": map[string]any{"changes": map[string]any{"file:///etc/passwd": []any{}}},
			}})
			reply(nil)
		case "fake/applyEditGoroot":
			send(map[string]any{"jsonrpc": "2.0", "id": 9005, "method": "workspace/applyEdit", "params": map[string]any{
				"edit": map[string]any{"changes": map[string]any{
					cwdURI + "/main.go": []any{},
					"file://" + os.Getenv("GOROOT") + "/src/fmt/print.go": []any{},
				}},
			}})
			reply(nil)
		case "textDocument/codeAction":
			reply([]any{
				map[string]any{"title": "fix", "edit": map[string]any{"changes": map[string]any{cwdURI + "/main.go": []any{}}}},
				map[string]any{"title": "move", "edit": map[string]any{"documentChanges": []any{map[string]any{
					"kind": "rename", "oldUri": cwdURI + "/main.go", "newUri": "file://" + os.Getenv("GOROOT") + "/src/x.go",
				}}}},
				map[string]any{"title": "run", "command": "gopls.tidy"},
			})
		case "codeAction/resolve":
			reply(map[string]any{"title": "create", "edit": map[string]any{"documentChanges": []any{map[string]any{
				"kind": "create", "uri": "file://" + os.Getenv("GOMODCACHE") + "/x@v1/x.go",
			}}}})
		case "fake/raw": // reports the bytes it received (base64: not rewritten on the way back)
			send(map[string]any{"jsonrpc": "2.0", "method": "fake/rawReceived", "params": map[string]any{"body": body}})
			reply(nil)
		case "fake/future": // fields no library knows, in raw JSON of its own layout
			sendRaw(fmt.Appendf(nil, futureResponse, cwd, cwd, cwd, m.ID))
			sendRaw(fmt.Appendf(nil, futureRequest, cwd, cwd, cwd))
		case "fake/config":
			send(map[string]any{"jsonrpc": "2.0", "id": 9003, "method": "workspace/configuration", "params": map[string]any{
				"items": []any{map[string]any{"section": "gopls"}},
			}})
			reply(nil)
		case "fake/showDocument":
			send(map[string]any{"jsonrpc": "2.0", "id": 9004, "method": "window/showDocument", "params": map[string]any{
				"uri": "javascript:alert(1)", "external": true,
			}})
			reply(nil)
		case "workspace/didChangeWorkspaceFolders":
			// LSP-01: reported, so a test sees one that got through.
			send(map[string]any{"jsonrpc": "2.0", "method": "fake/folders", "params": json.RawMessage(m.Params)})
		case "workspace/didChangeWatchedFiles":
			var wp any
			_ = json.Unmarshal(m.Params, &wp)
			send(map[string]any{"jsonrpc": "2.0", "method": "fake/watched", "params": wp})
		case "shutdown":
			reply(nil)
		case "exit":
			return 0
		case "":
			// a response: report it
			var res any
			_ = json.Unmarshal(m.Result, &res)
			send(map[string]any{"jsonrpc": "2.0", "method": "fake/response", "params": map[string]any{"id": m.ID, "result": res}})
		default:
			if len(m.ID) > 0 {
				send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32601, "message": "no " + m.Method}})
			}
		}
	}
}

// marked lists processes carrying this test binary's sandbox marker.
func marked() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && strings.Contains(string(b), sandbox.MarkerVar+"="+instance) {
			pids = append(pids, pid)
		}
	}
	return pids
}
