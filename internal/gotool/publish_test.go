package gotool_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/gotool"
)

// mode returns the permission bits of p.
func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestPublishConfigured: with Publish, a configured binary in a directory
// only its owner may enter is copied into Dir (0755) under a content name,
// the copy is what Path returns, and the same content reuses the copy.
func TestPublishConfigured(t *testing.T) {
	root := t.TempDir()
	private := filepath.Join(root, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(private, "gopls")
	content := []byte("#!/bin/sh\necho configured\n")
	if err := os.WriteFile(bin, content, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tools", "bin")
	path := func() string {
		t.Helper()
		in, err := gotool.New(gotool.Options{Dir: dir, Paths: map[string]string{"gopls": bin}, Publish: true})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		p, err := in.Path(context.Background(), gotool.Gopls())
		if err != nil {
			t.Fatalf("Path: %v", err)
		}
		return p
	}
	p := path()
	if filepath.Dir(p) != dir || !strings.HasPrefix(filepath.Base(p), "gopls-") || len(filepath.Base(p)) != len("gopls-")+12 {
		t.Fatalf("Path = %q, want %s/gopls-<12 hex digits>", p, dir)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Errorf("published copy holds %q, want %q", got, content)
	}
	if m := mode(t, p); m != 0o755 {
		t.Errorf("published copy has mode %v, want 0755", m)
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("tools directory has mode %v, want 0755", m)
	}
	if again := path(); again != p {
		t.Errorf("second Path = %q, want the same copy %q", again, p)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("tools directory holds %v (%v), want only the copy", entries, err)
	}

	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho other\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if other := path(); other == p {
		t.Errorf("a changed binary reuses the old copy %q", p)
	}
}

// TestNoPublishKeepsConfigured: without Publish the configured path is
// returned as is and nothing is copied.
func TestNoPublishKeepsConfigured(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "dlv")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tools")
	in, _ := gotool.New(gotool.Options{Dir: dir, Paths: map[string]string{"dlv": bin}})
	defer in.Close()
	if p, err := in.Path(context.Background(), gotool.Dlv()); err != nil || p != bin {
		t.Fatalf("Path = %q, %v; want %q", p, err, bin)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("tools directory was created: %v", err)
	}
}

// TestPublishBuilt: a built tool lands 0755 in a 0755 Dir whatever the
// build left, and an existing build with a narrower mode is widened.
func TestPublishBuilt(t *testing.T) {
	root := t.TempDir()
	// A stand-in go command: "install" writes an owner-only binary into
	// $GOBIN, as go install does under umask 077.
	goBin := filepath.Join(root, "go")
	script := "#!/bin/sh\nprintf '#!/bin/sh\\n' > \"$GOBIN/gopls\" && chmod 700 \"$GOBIN/gopls\"\n"
	if err := os.WriteFile(goBin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tools")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	in, _ := gotool.New(gotool.Options{Dir: dir, GoBinary: goBin, Env: []string{"PATH=/usr/bin:/bin"}, Publish: true})
	p, err := in.Path(context.Background(), gotool.Gopls())
	in.Close()
	if err != nil {
		t.Fatalf("Path: %v", err)
	}
	if m := mode(t, p); m != 0o755 {
		t.Errorf("built tool has mode %v, want 0755", m)
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("tools directory has mode %v, want 0755", m)
	}

	// An earlier build (e.g. by a server without Publish) that only its
	// owner may run.
	if err := os.Chmod(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	in, _ = gotool.New(gotool.Options{Dir: dir, GoBinary: "/nonexistent/go", Publish: true})
	defer in.Close()
	if p2, err := in.Path(context.Background(), gotool.Gopls()); err != nil || p2 != p {
		t.Fatalf("Path = %q, %v; want the existing %q", p2, err, p)
	}
	if m := mode(t, p); m != 0o755 {
		t.Errorf("existing tool has mode %v, want 0755", m)
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("tools directory has mode %v, want 0755", m)
	}
}

// TestPublishReadyAfterPrepare: a configured tool, published or not, is
// ready when Prepare returns (it needs no build), so /readyz does not
// flap at start.
func TestPublishReadyAfterPrepare(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "gopls")
	if err := os.WriteFile(bin, bytes.Repeat([]byte("x"), 1<<20), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, publish := range []bool{false, true} {
		in, _ := gotool.New(gotool.Options{Dir: filepath.Join(root, "tools"), Paths: map[string]string{"gopls": bin}, Publish: publish})
		in.Prepare(gotool.Gopls())
		if err := in.Status(gotool.Gopls()); err != nil {
			t.Errorf("publish=%v: Status after Prepare = %v, want ready", publish, err)
		}
		in.Close()
	}
}
