package playground_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/isotest"
	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/workspace"
)

// isolate makes ropts a bubblewrap runner whose playground processes run
// as isotest.UID with the server's layout (HOME at /home/user, GOMODCACHE
// at /gomodcache, GOROOT read-only at /goroot, the build cache at
// /gocache), and returns the data directory, the run directories' parent
// and the build cache, all below a directory every uid may traverse. dirs
// returns the tenant's directories; it is called when a process starts.
func isolate(t testing.TB, ropts *sandbox.Options, dirs func(string) (workspace.HomeDirs, error)) (data, runs, cache string) {
	t.Helper()
	if why := isotest.Unavailable(); why != "" {
		t.Skip(why)
	}
	root, err := isotest.PublicDir(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	data, runs, cache = filepath.Join(root, "data"), filepath.Join(root, "runs"), filepath.Join(root, "gocache")
	if err := isotest.Traversable(data, runs); err != nil {
		t.Fatal(err)
	}
	if err := isotest.LinkCache(hostGo.cache, cache, isotest.UID); err != nil {
		t.Fatal(err)
	}
	ropts.Isolation = sandbox.IsolationBwrap
	ropts.OwnerUID = func(string) (int, error) { return isotest.UID, nil }
	ropts.View = func(tenant, ws string) ([]sandbox.Bind, error) {
		d, err := dirs(tenant)
		if err != nil {
			return nil, err
		}
		return []sandbox.Bind{
			{Host: d.Home, Target: "/home/user"},
			{Host: d.GoModCache, Target: "/gomodcache"},
			{Host: cache, Target: "/gocache"},
			{Host: hostGo.root, Target: "/goroot", ReadOnly: true},
		}, nil
	}
	return data, runs, cache
}

// ownTenant gives tenant's directories below tenants to isotest.UID and
// lets it traverse tenants.
func ownTenant(t testing.TB, tenants, tenant string) {
	t.Helper()
	if err := isotest.Traversable(tenants); err != nil {
		t.Fatal(err)
	}
	if err := isotest.ChownTree(filepath.Join(tenants, tenant), isotest.UID); err != nil {
		t.Fatal(err)
	}
}

// TestCompileBwrap builds and runs programs inside bubblewrap as the
// playground's uid: output, a compile error (shown without the sandbox's
// run directory), and a test program; the program sees its run directory
// at playground.RunTarget, never the host's.
func TestCompileBwrap(t *testing.T) {
	e := newEnvMode(t, nil, true)
	tests := []struct {
		name, body string
		want       func(r *playground.Response) bool
	}{
		{"hello", hello, func(r *playground.Response) bool {
			return len(r.Events) == 1 && r.Events[0].Message == "hello, world\n" && r.Status == 0
		}},
		{"view", "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\twd, _ := os.Getwd()\n\tfmt.Println(wd, os.Getuid(), os.Getenv(\"HOME\"))\n}\n", func(r *playground.Response) bool {
			return len(r.Events) == 1 && r.Events[0].Message == playground.RunTarget+" 200123 "+playground.RunTarget+"\n"
		}},
		{"compile_error", "package main\n\nfunc main() {\n\tundefinedThing()\n}\n", func(r *playground.Response) bool {
			return strings.HasPrefix(r.Errors, "./prog.go:4:2: undefined: undefinedThing")
		}},
		{"test", "package main\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n", func(r *playground.Response) bool {
			return len(r.Events) > 0 && strings.Contains(r.Events[len(r.Events)-1].Message, "PASS")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.svc.Compile(context.Background(), "test", playground.Request{Body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(res) {
				t.Errorf("response: %+v", res)
			}
			for _, ev := range res.Events {
				if strings.Contains(ev.Message, "/tmp/") {
					t.Errorf("output holds a host path: %q", ev.Message)
				}
			}
		})
	}
}
