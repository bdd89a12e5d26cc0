package playground

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCleanToolOutput(t *testing.T) {
	t.Parallel()
	const dir = "/data/tmp/play-123"
	tests := []struct{ name, in, target, want string }{
		{"host dir", dir + "/prog.go:4:2: undefined: x\n", "", "prog.go:4:2: undefined: x\n"},
		{"banner", "# play\n./prog.go:1: x\n", "", "./prog.go:1: x\n"},
		{"target", "/play/prog.go:4:2: bad\ncd /play: ok\n", RunTarget, "prog.go:4:2: bad\ncd .: ok\n"},
		{"target inside a path stays", "example.com/play/x /playground /play2\n", RunTarget, "example.com/play/x /playground /play2\n"},
		{"target ignored without isolation", "/play/prog.go\n", "", "/play/prog.go\n"},
	}
	for _, tt := range tests {
		if got := cleanToolOutput(tt.in, dir, tt.target); got != tt.want {
			t.Errorf("%s: cleanToolOutput(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// A program may leave directories it took permissions off; removeAll
// still removes the run directory.
func TestRemoveAllRestrictedDirs(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root ignores permissions")
	}
	dir := filepath.Join(t.TempDir(), "play-1")
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{sub, filepath.Join(dir, "a"), dir} {
		if err := os.Chmod(d, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "a"), 0o000); err != nil {
		t.Fatal(err)
	}
	removeAll(dir)
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("run directory left behind: %v", err)
	}
}
