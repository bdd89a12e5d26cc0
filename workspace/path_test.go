package workspace_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

var validPaths = []struct {
	name, in, want string
}{
	{"empty is root", "", ""},
	{"dot is root", ".", ""},
	{"file", "main.go", "main.go"},
	{"nested", "cmd/app/main.go", "cmd/app/main.go"},
	{"hidden", ".git/config", ".git/config"},
	{"dots inside names", "..foo/bar../a...b", "..foo/bar../a...b"},
	{"three dots", "...", "..."},
	{"spaces", "my dir/my file.txt", "my dir/my file.txt"},
	{"unicode NFC", "caf\u00e9.go", "caf\u00e9.go"},
	{"unicode NFD kept byte-exact", "cafe\u0301.go", "cafe\u0301.go"},
	{"fullwidth kept", "\uff21.go", "\uff21.go"},
	{"colon not in second byte", "ab:c", "ab:c"},
	{"255-byte component", strings.Repeat("a", 255), strings.Repeat("a", 255)},
	{"4096-byte path", longPath(4096), longPath(4096)},
}

var invalidPaths = []struct{ name, in string }{
	// PATH-01
	{"dotdot", ".."},
	{"dotdot escape", "a/../../x"},
	{"dotdot slash", "../"},
	{"trailing dotdot", "x/.."},
	{"dot dotdot", "./../"},
	{"dotdot that would clean away", "a/../b"},
	{"dot component", "a/./b"},
	{"leading dot component", "./a"},
	{"dotdot prefix", "../etc/passwd"},
	// PATH-02
	{"absolute", "/etc/passwd"},
	{"double slash", "//etc"},
	{"slash", "/"},
	{"file URL", "file:///etc"},
	{"windows drive", `C:\x`},
	{"windows drive slash", "C:/x"},
	{"windows drive relative", "c:x"},
	{"UNC", `\\server\share`},
	{"backslash dotdot", `a\..\b`},
	{"backslash", `a\b`},
	// empty components and slashes
	{"empty component", "a//b"},
	{"trailing slash", "a/"},
	{"symlink trailing slash", "link/"},
	// PATH-05
	{"NUL", "a\x00b"},
	{"newline", "a\nb"},
	{"carriage return", "a\rb"},
	{"tab", "a\tb"},
	{"DEL", "a\x7fb"},
	{"C1 control", "a\u0085b"},
	{"escape", "\x1b[31mred"},
	{"256-byte component", strings.Repeat("a", 256)},
	{"4097-byte path", longPath(4097)},
	{"invalid UTF-8", "a\xffb"},
	{"truncated UTF-8", "caf\xc3"},
	{"RLO", "evil\u202Egpj.go"},
	{"LRE", "a\u202Ab"},
	{"isolate", "a\u2066b"},
	{"LRM", "a\u200Eb"},
	{"RLM", "a\u200Fb"},
	{"line separator", "a\u2028b"},
}

// longPath returns a valid path of exactly n bytes.
func longPath(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(strings.Repeat("p", min(200, max(1, n-b.Len()))))
	}
	return b.String()[:n]
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	for _, tc := range validPaths {
		t.Run(tc.name, func(t *testing.T) {
			got, err := workspace.CleanPath(tc.in)
			if err != nil {
				t.Fatalf("CleanPath(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("CleanPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got != "" && !filepath.IsLocal(got) {
				t.Fatalf("CleanPath(%q) = %q, not local", tc.in, got)
			}
		})
	}
	for _, tc := range invalidPaths {
		t.Run(tc.name, func(t *testing.T) {
			got, err := workspace.CleanPath(tc.in)
			if !errors.Is(err, workspace.ErrInvalidPath) {
				t.Fatalf("CleanPath(%q) = %q, %v; want ErrInvalidPath", tc.in, got, err)
			}
			if got != "" {
				t.Fatalf("CleanPath(%q) returned %q with an error", tc.in, got)
			}
		})
	}
}

func TestLongPathHelper(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 200, 201, 4096, 4097} {
		if got := len(longPath(n)); got != n {
			t.Errorf("len(longPath(%d)) = %d", n, got)
		}
	}
}
