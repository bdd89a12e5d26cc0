package auth_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/auth"
)

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"simple", "local", true},
		{"digit first", "0abc", true},
		{"single char", "a", true},
		{"with hyphens", "team-a-1", true},
		{"trailing hyphen", "a-", true},
		{"63 chars", strings.Repeat("a", 63), true},
		{"64 chars", strings.Repeat("a", 64), false},
		{"empty", "", false},
		{"uppercase", "A", false},
		{"mixed case", "Team", false},
		{"leading hyphen", "-a", false},
		{"dot dot slash", "../x", false},
		{"slash", "a/b", false},
		{"dot", "a.b", false},
		{"underscore", "a_b", false},
		{"space", "a b", false},
		{"nul", "a\x00", false},
		{"newline", "a\n", false},
		{"colon separator", "a:b", false},
		{"non-ascii", "ä", false},
		{"fullwidth", "ａ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for _, prefix := range []string{auth.PrefixAPIToken, auth.PrefixLogin, auth.PrefixTicket} {
		for range 100 {
			s, h, err := auth.NewSecret(prefix)
			if err != nil {
				t.Fatalf("NewSecret(%q): %v", prefix, err)
			}
			if !strings.HasPrefix(s, prefix+"_") {
				t.Fatalf("secret %q lacks prefix %q", s, prefix+"_")
			}
			if len(s) != len(prefix)+1+43 {
				t.Fatalf("secret %q has length %d, want %d", s, len(s), len(prefix)+44)
			}
			if !auth.HasSecretShape(s, prefix) {
				t.Fatalf("HasSecretShape(%q, %q) = false", s, prefix)
			}
			if !bytes.Equal(h, auth.HashSecret(s)) {
				t.Fatalf("hash of %q does not match HashSecret", s)
			}
			if len(h) != 32 {
				t.Fatalf("hash length %d, want 32", len(h))
			}
			if auth.LooksLikeJWT(s) {
				t.Fatalf("secret %q looks like a JWT", s)
			}
			if seen[s] {
				t.Fatalf("duplicate secret %q", s)
			}
			seen[s] = true
		}
	}
}

func TestNewSecretBadPrefix(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "IDE", "a_b", "a.b", "ide-x", strings.Repeat("a", 17)} {
		if _, _, err := auth.NewSecret(p); err == nil {
			t.Errorf("NewSecret(%q) succeeded, want error", p)
		}
	}
}

func TestHashSecret(t *testing.T) {
	t.Parallel()
	if bytes.Equal(auth.HashSecret("ide_a"), auth.HashSecret("ide_b")) {
		t.Error("different secrets hash equal")
	}
	if !bytes.Equal(auth.HashSecret("x"), auth.HashSecret("x")) {
		t.Error("HashSecret not deterministic")
	}
}

func TestHasSecretShape(t *testing.T) {
	t.Parallel()
	good, _, err := auth.NewSecret("ses")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		s      string
		prefix string
		want   bool
	}{
		{"good", good, "ses", true},
		{"wrong prefix", good, "ide", false},
		{"truncated", good[:len(good)-1], "ses", false},
		{"extended", good + "A", "ses", false},
		{"bad char", good[:len(good)-1] + "=", "ses", false},
		{"empty", "", "ses", false},
		{"no prefix", good[4:], "ses", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.HasSecretShape(tt.s, tt.prefix); got != tt.want {
				t.Errorf("HasSecretShape(%q, %q) = %v, want %v", tt.s, tt.prefix, got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	const n = 10000
	seen := make(map[string]struct{}, n)
	for range n {
		id := auth.NewID()
		if len(id) != auth.IDLen {
			t.Fatalf("NewID() = %q, length %d, want %d", id, len(id), auth.IDLen)
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				t.Fatalf("NewID() = %q has character %q outside [a-z2-7]", id, c)
			}
		}
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate id %q after %d", id, len(seen))
		}
		seen[id] = struct{}{}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", true},
		{"unsigned", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", true},
		{"opaque token", "ide_" + strings.Repeat("A", 43), false},
		{"two segments", "a.b", false},
		{"four segments", "a.b.c.d", false},
		{"empty header", ".b.c", false},
		{"empty payload", "a..c", false},
		{"padding", "a=.b.c", false},
		{"standard base64", "a+/.b.c", false},
		{"space", "a .b.c", false},
		{"empty", "", false},
		{"too long", strings.Repeat("a", auth.MaxJWTLen) + ".b.c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.LooksLikeJWT(tt.s); got != tt.want {
				t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}
