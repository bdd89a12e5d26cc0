package workspace

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on client paths, the common Linux ones (NAME_MAX and PATH_MAX).
const (
	maxComponentLen = 255
	maxPathLen      = 4096
)

// tempPrefix starts the name of every temporary file WriteFile creates.
// Watchers ignore such names.
const tempPrefix = ".ideserver-tmp-"

// CleanPath validates a client path and returns its canonical form.
//
// A client path is slash-separated and relative to the workspace root. "" and
// "." name the root and yield ""; every other valid path is returned
// unchanged: CleanPath never cleans silently, it accepts a path only when it
// is already canonical. Names are stored byte-exact: there is no Unicode
// normalisation and no case folding, so "é" (NFC) and "é" (NFD), or "A.go"
// and "Ａ.go", are different files, as they are on the Linux file system
// underneath (PATH-06). Because each workspace is its own directory, two
// tenants' names can never collide.
//
// CleanPath refuses, with an error wrapping [ErrInvalidPath]:
//   - absolute paths (a leading "/") and Windows volume names ("C:...");
//   - "." and ".." components anywhere, even ones that would clean away
//     ("a/../b", "a/./b");
//   - empty components ("a//b") and a trailing slash ("a/");
//   - backslashes;
//   - invalid UTF-8;
//   - control characters (C0, DEL and C1, including NUL, "\n", "\r", "\t"),
//     Unicode BiDi controls (U+200E, U+200F, U+061C, U+202A–U+202E,
//     U+2066–U+2069) and the line and paragraph separators U+2028, U+2029;
//   - components longer than 255 bytes and paths longer than 4096 bytes.
//
// The error text quotes the client's input (shortened when long). CleanPath
// is a pure function, safe for concurrent use. Every accepted path other than
// "" satisfies [filepath.IsLocal].
func CleanPath(p string) (string, error) {
	if p == "" || p == "." {
		return "", nil
	}
	if len(p) > maxPathLen {
		return "", invalidPath(p, "longer than 4096 bytes")
	}
	if !utf8.ValidString(p) {
		return "", invalidPath(p, "not valid UTF-8")
	}
	if p[0] == '/' {
		return "", invalidPath(p, "absolute")
	}
	if len(p) >= 2 && p[1] == ':' && isASCIILetter(p[0]) {
		return "", invalidPath(p, "volume name")
	}
	for _, r := range p {
		switch {
		case r == '\\':
			return "", invalidPath(p, "backslash")
		case unicode.IsControl(r):
			return "", invalidPath(p, "control character")
		case isBiDiControl(r), r == '\u2028', r == '\u2029':
			return "", invalidPath(p, "bidirectional or separator control")
		}
	}
	for comp := range strings.SplitSeq(p, "/") {
		switch {
		case comp == "":
			return "", invalidPath(p, "empty component or trailing slash")
		case comp == "." || comp == "..":
			return "", invalidPath(p, "dot component")
		case len(comp) > maxComponentLen:
			return "", invalidPath(p, "component longer than 255 bytes")
		}
	}
	if !filepath.IsLocal(p) { // belt and braces: must hold after the checks above
		return "", invalidPath(p, "not local")
	}
	return p, nil
}

// osName is the name of a canonical client path for os.Root methods.
func osName(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

func invalidPath(p, why string) error {
	const max = 200
	if len(p) > max {
		p = p[:max] + "..."
	}
	return fmt.Errorf("%w: %q: %s", ErrInvalidPath, p, why)
}

func isASCIILetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func isBiDiControl(r rune) bool {
	switch {
	case r == '\u200E', r == '\u200F', r == '\u061C':
		return true
	case '\u202A' <= r && r <= '\u202E':
		return true
	case '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}
