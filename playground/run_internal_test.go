package playground

import "testing"

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
