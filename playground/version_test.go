package playground_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/playground"
)

// TestVersion: /version names the Go installation programs are built
// with, as its go command says, in the Go Playground's fields; without a
// VERSION file it is an error, not a guess.
func TestVersion(t *testing.T) {
	e := newEnv(t, nil)
	v, err := e.svc.Version()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(hostGo.root, "bin", "go"), "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(out))
	if v.Version != want || !strings.HasPrefix(want, v.Release) || v.Name != "Go "+strings.TrimPrefix(v.Release, "go") {
		t.Errorf("Version = %+v, want Version %q with its release and name", v, want)
	}

	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "VERSION"), []byte("devel +abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := newEnv(t, func(o *playground.Options) { o.GOROOT = empty })
	if v, err := other.svc.Version(); err == nil {
		t.Errorf("an unreadable version gave %+v", v)
	}
}
