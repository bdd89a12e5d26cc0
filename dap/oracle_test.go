package dap_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestLaunchNoHostOracle (SBX-12, DAP-01): a launch whose program (or
// cwd) is a symlink out of the workspace gets a byte-identical answer
// whether the link's target exists on the host or not, so a client cannot
// probe the host's files through the server (which runs as root). The old
// check resolved the link on the host and answered "does not exist" for
// the missing target, "leads outside" for the existing one.
func TestLaunchNoHostOracle(t *testing.T) {
	dlv := requireDlv(t)
	f := newFixture(t, dlv, map[string]string{"go.mod": "module hello\n\ngo 1.26\n", "main.go": helloMain})
	exists := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(exists, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(f.h.Dir, "prog")
	c := f.open()
	initialize(c)
	answer := func(target string, args map[string]any) string {
		t.Helper()
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		r := c.response(c.send("launch", args))
		if r.str("success") != "false" {
			t.Fatalf("launch of a link to %s: %v", target, r)
		}
		delete(r, "seq")
		delete(r, "request_seq")
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rel, err := filepath.Rel(f.h.Dir, exists)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range []map[string]any{
		{"program": "prog"},
		{"program": "/workspace/prog"},
		{"program": ".", "cwd": "prog"},
	} {
		want := answer("/nonexistent", args)
		for _, target := range []string{exists, "/root", "/etc/passwd", rel, "../../../../../../../../nonexistent"} {
			if got := answer(target, args); got != want {
				t.Errorf("%v, link to %s:\n%s\nlink to /nonexistent:\n%s", args, target, got, want)
			}
		}
	}
	c.assertNoHostPath(f.secrets)
}
