package dap

import (
	"strings"
	"testing"
)

// TestProcessPaths: the identity without isolation; under bubblewrap the
// session directory and the workspace map to their targets, the rest to
// the Handle's ProcessPath, and the process pathMap turns dlv's paths, and host
// paths that still turn up, into client paths.
func TestProcessPaths(t *testing.T) {
	t.Parallel()
	dirs := map[string]string{"/srv/tmp/dap-1": sessionTarget, "/srv/ws/ws1": "/workspace"}
	fallback := func(h string) string {
		if rest, ok := strings.CutPrefix(h, "/usr/local/go"); ok {
			return "/goroot" + rest
		}
		return h
	}
	if v := newProcessPaths(false, dirs, fallback); v.path("/srv/ws/ws1/main.go") != "/srv/ws/ws1/main.go" {
		t.Errorf("no isolation: %q", v.path("/srv/ws/ws1/main.go"))
	}
	v := newProcessPaths(true, dirs, fallback)
	for in, want := range map[string]string{
		"/srv/tmp/dap-1/dlv.sock":  sessionTarget + "/dlv.sock",
		"/srv/ws/ws1":              "/workspace",
		"/srv/ws/ws1/cmd/x":        "/workspace/cmd/x",
		"/srv/ws/ws10":             "/srv/ws/ws10",
		"/usr/local/go/src/fmt":    "/goroot/src/fmt",
		"/elsewhere/not/in/a/bind": "/elsewhere/not/in/a/bind",
	} {
		if got := v.path(in); got != want {
			t.Errorf("path(%q) = %q, want %q", in, got, want)
		}
	}
	pm, err := newPathMap(v.processRoots([]pathRoot{
		{Client: workspaceRoot, Host: "/srv/ws/ws1"},
		{Client: gorootRoot, Host: "/usr/local/go"},
		{Client: "/tmp/debug", Host: "/srv/tmp/dap-1", Hidden: true},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if h, root, err := pm.ToHost("/workspace/main.go"); err != nil || h != "/workspace/main.go" || root != workspaceRoot {
		t.Errorf("ToHost = %q, %q, %v", h, root, err)
	}
	got := pm.ToClient("/goroot/src/fmt/print.go /srv/ws/ws1/a.go " + sessionTarget + "/__debug_bin /usr/local/go/x")
	if want := "/goroot/src/fmt/print.go /workspace/a.go /tmp/debug/__debug_bin /goroot/x"; got != want {
		t.Errorf("ToClient = %q, want %q", got, want)
	}
}
