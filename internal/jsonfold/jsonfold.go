// Package jsonfold finds JSON objects with two keys that encoding/json would
// treat as one. Go's decoder matches object keys to struct fields without
// regard to Unicode case (so "Command", "command" and "ſ"-for-"s" spellings
// collide) and keeps the last; a proxy that checks one spelling while the
// peer (gopls, dlv) decodes another could be bypassed. The lsp and dap
// proxies refuse such client messages.
package jsonfold

import (
	"strings"
	"unicode"
)

// Collides reports whether an object anywhere in v (a value decoded into
// any) has two keys equal under Unicode case folding. Keys for which skip
// returns true are not compared (nil skips none).
func Collides(v any, skip func(key string) bool) bool {
	switch x := v.(type) {
	case map[string]any:
		if len(x) > 1 {
			seen := make(map[string]struct{}, len(x))
			for k := range x {
				if skip != nil && skip(k) {
					continue
				}
				f := foldKey(k)
				if _, dup := seen[f]; dup {
					return true
				}
				seen[f] = struct{}{}
			}
		}
		for _, e := range x {
			if Collides(e, skip) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if Collides(e, skip) {
				return true
			}
		}
	}
	return false
}

// foldKey maps every rune of k to the smallest rune of its case-folding
// orbit, so keys equal under strings.EqualFold map to the same string.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		lo := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			lo = min(lo, f)
		}
		return lo
	}, k)
}
