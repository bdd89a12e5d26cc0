package lsp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/lsp"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// newUserFixture is the server's layout for new users: a real
// workspace.Manager whose users share a build cache and a gopls cache
// prebuilt (with fmt) by PrepareBuildCache, gopls run by an lsp.Manager
// through workspace Handles, and a loopback WebSocket that does what
// package server does for each LSP socket (Manager.Open, then Serve).
type newUserFixture struct {
	env   *wstest.Env
	cache *workspace.BuildCache
	lsp   *lsp.Manager
	url   string
	users int
}

// newNewUserFixture builds a newUserFixture, under bubblewrap when bwrap
// is set (the prebuild as isotest.UID+1, users as isotest.UID).
func newNewUserFixture(b *testing.B, gopls string, bwrap bool) *newUserFixture {
	b.Helper()
	goroot := goRoot(b)
	wo := wstest.Options{GoRoot: goroot, Instance: instance + "-newuser"}
	cacheUID := -1
	if bwrap {
		if why := isotest.Unavailable(); why != "" {
			b.Skip(why)
		}
		uidOf := func(owner string) (int, error) {
			if owner == workspace.BuildCacheOwner {
				return isotest.UID + 1, nil
			}
			return isotest.UID, nil
		}
		runner, err := sandbox.New(sandbox.Options{
			Instance: instance + "-newuser-bwrap", KillGrace: 500 * time.Millisecond,
			Isolation: sandbox.IsolationBwrap, OwnerUID: uidOf,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = runner.Close() })
		base, err := isotest.PublicDir(b.Cleanup)
		if err != nil {
			b.Fatal(err)
		}
		tools := filepath.Join(base, "tools")
		if err := os.Mkdir(tools, 0o755); err != nil {
			b.Fatal(err)
		}
		if gopls, err = isotest.CopyExecutable(gopls, tools); err != nil {
			b.Fatal(err)
		}
		wo.Runner, wo.Identity = runner, uidOf
		wo.ToolBinds = []sandbox.Bind{{Host: tools, Target: "/opt/ideserver/bin", ReadOnly: true}}
		cacheUID = isotest.UID + 1
	}
	c := wstest.BuildCache(b, goroot, cacheUID, "fmt")
	c.GoplsDir = filepath.Join(filepath.Dir(c.Dir), "gopls-cache")
	if err := os.Mkdir(c.GoplsDir, 0o700); err != nil {
		b.Fatal(err)
	}
	watchers := workspace.NewWatchers(workspace.WatcherOptions{})
	m, err := lsp.NewManager(lsp.Options{
		Watchers:  watchers,
		GoplsPath: func(context.Context) (string, error) { return gopls, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = m.Close(context.Background())
		_ = watchers.Close()
	})
	c.Gopls = m
	wo.BuildCache = c
	f := &newUserFixture{env: wstest.New(b, wo), cache: c, lsp: m}
	n, d, err := f.env.Manager.PrepareBuildCache(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("prebuilt %d packages and the gopls cache in %v", n, d.Round(time.Millisecond))

	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		h, err := f.env.Manager.Open(workspace.Owner{Tenant: "t1", User: q.Get("user")}, q.Get("ws"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		conn, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		bc := bridge.NewConn(conn, 0) // as package server does
		bc.CloseWith(bridge.CloseCode(m.Serve(req.Context(), h, bc)))
	}))
	b.Cleanup(func() {
		ts.Close()
		wg.Wait()
	})
	f.url = "ws" + strings.TrimPrefix(ts.URL, "http")
	return f
}

// firstDiagnostics makes a new user with a workspace from the hello
// template, then measures from the LSP WebSocket request (Manager.Open,
// which prepares and seeds the user's HOME, included) to the first
// diagnostics of main.go.
func (f *newUserFixture) firstDiagnostics(b *testing.B) time.Duration {
	b.Helper()
	f.users++
	owner := workspace.Owner{Tenant: "t1", User: "new" + strconv.Itoa(f.users)}
	if _, err := f.env.Store.EnsureUser(owner.Tenant, owner.User); err != nil {
		b.Fatal(err)
	}
	w, err := f.env.Manager.Create(context.Background(), owner, workspace.CreateOptions{Files: helloFiles})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	r, closeRPC := dialRPC(b, f.url+"?user="+owner.User+"&ws="+w.ID)
	r.openHello(b, "file:///workspace", "file:///workspace/main.go")
	r.awaitDiagnostics(b)
	d := time.Since(start)
	closeRPC()
	return d
}

// busyBuild runs `go build -a` of net/http on the host, over and over
// with a cache of its own, until the returned function is called: a
// build beside the session, as another user's would be.
func busyBuild(b *testing.B) func() {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cache := b.TempDir()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cmd := exec.CommandContext(ctx, filepath.Join(goRoot(b), "bin", "go"), "build", "-a", "-o", os.DevNull, "net/http")
			cmd.Env = append(os.Environ(), "GOCACHE="+cache, "GOFLAGS=")
			_ = cmd.Run()
		}
	}()
	time.Sleep(2 * time.Second) // under way
	return func() {
		cancel()
		<-done
	}
}

// BenchmarkNewUserFirstDiagnostics measures what a new user waits for:
// each iteration is a new user with a new workspace from the hello
// template, timed from the LSP WebSocket request (Manager.Open, HOME made
// and seeded) to the first diagnostics, served as the server serves it
// (workspace.Handle, the users' shared build cache) without isolation;
// BenchmarkNewUserFirstDiagnosticsBwrap does the same under bubblewrap.
// "build-cache" is the users' shared build cache only (the user's gopls
// cache starts empty, as before issue 15); "gopls-cache" adds the shared
// gopls cache theirs starts from. "loaded" runs a go build -a beside it.
// Run with -benchtime=3x.
func BenchmarkNewUserFirstDiagnostics(b *testing.B) {
	benchNewUsers(b, newNewUserFixture(b, requireGopls(b), false))
}

// BenchmarkNewUserFirstDiagnosticsBwrap is BenchmarkNewUserFirstDiagnostics
// under bubblewrap, the prebuild and the users as two uids.
func BenchmarkNewUserFirstDiagnosticsBwrap(b *testing.B) {
	benchNewUsers(b, newNewUserFixture(b, requireGopls(b), true))
}

func benchNewUsers(b *testing.B, f *newUserFixture) {
	for _, load := range []string{"quiet", "loaded"} {
		for _, caches := range []string{"build-cache", "gopls-cache"} {
			b.Run(load+"/"+caches, func(b *testing.B) {
				dir := f.cache.GoplsDir
				if caches == "build-cache" {
					f.cache.GoplsDir = "" // no seeding
					defer func() { f.cache.GoplsDir = dir }()
				}
				if load == "loaded" {
					defer busyBuild(b)()
				}
				var times []time.Duration
				b.ResetTimer()
				for range b.N {
					times = append(times, f.firstDiagnostics(b))
				}
				b.StopTimer()
				ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
				b.ReportMetric(ms(times[0]), "first-ms")
				b.ReportMetric(ms(percentile(times, 0.5)), "p50-ms")
				b.ReportMetric(ms(slices.Max(times)), "max-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
