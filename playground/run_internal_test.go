package playground

import (
	"strings"
	"testing"

	"github.com/ideserver/ideserver/buildcache"
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

// Without isolation the scratch directory and the shared cache are host
// paths: whatever names them in a go command's output is hidden.
func TestHideHostPaths(t *testing.T) {
	t.Parallel()
	s := &Service{opts: Options{Cache: &Cache{Cache: buildcache.Cache{Dir: "/data/cache/gocache", Program: "/data/cache/bin/gocacheprog"}}}}
	in := "open /data/tmp/play-1/tmp/gocache/x: denied\ngocacheprog: read /data/cache/gocache/ab/cd-a: EIO\nexec /data/cache/bin/gocacheprog\n"
	got := s.hideHostPaths(in, "/data/tmp/play-1")
	if strings.Contains(got, "/data") {
		t.Errorf("host path left: %q", got)
	}
	if want := "open $WORK/tmp/gocache/x: denied\n"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want it to start with %q", got, want)
	}
}
