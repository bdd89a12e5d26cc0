package workspace

import "strings"

// ReplaceInText rewrites process paths in any text (a compiler error, hover
// markdown, a URI, a debugger's stack trace) for the client, in one pass:
//
//   - a root's directory (or an alias's) becomes its client path where it
//     is a whole path prefix: at the start of s, after a byte that cannot
//     be part of a path, or after "file://" (a file URI's path), and ending
//     at the end of s or before '/' or another byte that cannot continue a
//     file name. So "/usr/local/gopher" is not GOROOT's, and a root's
//     directory inside another path is none.
//   - a redacted directory becomes "…" wherever it occurs, inside another
//     path or not, so that none reaches the client in any form.
//
// At one position the longest directory wins. Directories are also found
// in their file-URI form (spaces as %20). Text between paths is copied
// unchanged.
func (p *Paths) ReplaceInText(s string) string {
	if !p.mentions(s) {
		return s
	}
	out := p.replaceOnce(s)
	// A replacement followed by the text after it can spell a redacted
	// directory anew; repeat while one is left (each round shortens).
	for i := 0; i < 8 && p.mentionsRedacted(out); i++ {
		out = p.replaceOnce(out)
	}
	return out
}

// replaceOnce is one pass of ReplaceInText.
func (p *Paths) replaceOnce(s string) string {
	// next[j] caches the next match of needle j at or after where it was
	// last looked for: -2 not looked for yet, -1 none left.
	next := make([]int, len(p.needles))
	for j := range next {
		next[j] = -2
	}
	var b strings.Builder
	i, copied := 0, 0
	for i < len(s) {
		at, which := -1, -1
		for j, n := range p.needles {
			if next[j] == -1 {
				continue
			}
			if next[j] < i {
				next[j] = n.index(s, i)
			}
			if next[j] >= 0 && (at < 0 || next[j] < at) {
				at, which = next[j], j // needles are longest first: ties keep the longest
			}
		}
		if at < 0 {
			break
		}
		n := p.needles[which]
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[copied:at])
		b.WriteString(n.to)
		i = at + len(n.from)
		copied = i
	}
	if copied == 0 {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

// index returns the first index at or after from where n matches in s, or
// -1.
func (n needle) index(s string, from int) int {
	if n.anywhere {
		k := strings.Index(s[from:], n.from)
		if k < 0 {
			return -1
		}
		return from + k
	}
	return indexAtBoundary(s, from, n.from)
}

// mentions reports whether s holds any directory ReplaceInText replaces.
func (p *Paths) mentions(s string) bool {
	for _, n := range p.needles {
		if strings.Contains(s, n.from) {
			return true
		}
	}
	return false
}

// mentionsRedacted reports whether s holds a redacted directory.
func (p *Paths) mentionsRedacted(s string) bool {
	for _, n := range p.needles {
		if n.anywhere && strings.Contains(s, n.from) {
			return true
		}
	}
	return false
}

// indexAtBoundary returns the first index at or after from of dir in s
// that starts a path (at the start of s, after a byte that cannot be part
// of a path, or after "file://") and ends at a boundary, or -1.
func indexAtBoundary(s string, from int, dir string) int {
	off := from
	for {
		k := strings.Index(s[off:], dir)
		if k < 0 {
			return -1
		}
		start := off + k
		end := start + len(dir)
		startOK := start == 0 || !(nameByte(s[start-1]) || s[start-1] == '/') ||
			strings.EqualFold(s[max(0, start-len("file://")):start], "file://") // a file URI's path
		if startOK && (end == len(s) || !nameByte(s[end])) {
			return start
		}
		off = start + 1
	}
}

// nameByte reports whether c can be part of a file name in text: ASCII
// letters and digits, ".-_~+@" and any byte of a multi-byte character.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '@' || c >= 0x80
}
