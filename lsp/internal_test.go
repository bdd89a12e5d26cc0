package lsp

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestApplyChanges(t *testing.T) {
	t.Parallel()
	pos := func(l, c int) map[string]any {
		return map[string]any{"line": json.Number(itoa(l)), "character": json.Number(itoa(c))}
	}
	change := func(sl, sc, el, ec int, text string) any {
		return map[string]any{"range": map[string]any{"start": pos(sl, sc), "end": pos(el, ec)}, "text": text}
	}
	tests := []struct {
		name, text, enc string
		changes         []any
		want            string
	}{
		{"full", "abc", encUTF16, []any{map[string]any{"text": "xyz"}}, "xyz"},
		{"insert", "ab\ncd\n", encUTF16, []any{change(1, 1, 1, 1, "X")}, "ab\ncXd\n"},
		{"delete across lines", "ab\ncd\n", encUTF16, []any{change(0, 1, 1, 1, "")}, "ad\n"},
		{"utf16 surrogate", "a😀b\n", encUTF16, []any{change(0, 3, 0, 4, "")}, "a😀\n"},
		{"utf8", "a😀b\n", encUTF8, []any{change(0, 5, 0, 6, "")}, "a😀\n"},
		{"past end of line", "ab\ncd", encUTF16, []any{change(0, 99, 0, 99, "!")}, "ab!\ncd"},
		{"past end", "ab", encUTF16, []any{change(5, 0, 5, 0, "!")}, "ab!"},
		{"sequence", "hello", encUTF16, []any{change(0, 0, 0, 0, "1"), change(0, 6, 0, 6, "2")}, "1hello2"},
	}
	for _, tt := range tests {
		got, err := applyChanges(tt.text, tt.changes, tt.enc, 1<<20)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := applyChanges("x", []any{map[string]any{"range": "bad", "text": ""}}, encUTF16, 1<<20); err == nil {
		t.Error("a bad range applies")
	}
}

func TestApplyChangesLimit(t *testing.T) {
	t.Parallel()
	pos := func(l, c int) map[string]any {
		return map[string]any{"line": json.Number(itoa(l)), "character": json.Number(itoa(c))}
	}
	insert := map[string]any{"range": map[string]any{"start": pos(0, 0), "end": pos(0, 0)}, "text": "xx"}
	tests := []struct {
		name    string
		changes []any
		max     int
		over    bool
	}{
		{"full at the limit", []any{map[string]any{"text": "12345"}}, 5, false},
		{"full over", []any{map[string]any{"text": "123456"}}, 5, true},
		{"insert at the limit", []any{insert}, 5, false},
		{"inserts over", []any{insert, insert}, 5, true},
	}
	for _, tt := range tests {
		_, err := applyChanges("abc", tt.changes, encUTF16, tt.max)
		if got := errors.Is(err, errOpenBytes); got != tt.over {
			t.Errorf("%s: err %v, want over the limit %v", tt.name, err, tt.over)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestSanitizeSettings(t *testing.T) {
	t.Parallel()
	v := map[string]any{
		"buildFlags": []any{"-toolexec=/bin/sh", "-tags=a", "-tags=a b"},
		"env":        map[string]any{"CC": "x"},
		"gopls":      map[string]any{"env": map[string]any{"GOFLAGS": "-toolexec=x"}, "buildFlags": []any{"-overlay=x"}},
	}
	sanitizeSettings(v)
	b, _ := json.Marshal(v)
	if got, want := string(b), `{"buildFlags":["-tags=a"],"gopls":{"buildFlags":[]}}`; got != want {
		t.Errorf("sanitised = %s, want %s", got, want)
	}
}

// gopls reads only the last segment of a dotted setting name, so
// "build.env" and "ui.buildFlags" are env and buildFlags (LSP-06).
func TestSanitizeSettingsDottedNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{"build.env", map[string]any{"build.env": map[string]any{"GOFLAGS": "-toolexec=/bin/sh"}}, `{}`},
		{"build.buildFlags", map[string]any{"build.buildFlags": []any{"-toolexec=/bin/sh", "-tags=x"}}, `{"build.buildFlags":["-tags=x"]}`},
		{"nested dotted", map[string]any{"gopls": map[string]any{"a.b.env": map[string]any{"CC": "x"}}}, `{"gopls":{}}`},
		{"other dotted kept", map[string]any{"ui.completion.usePlaceholders": true}, `{"ui.completion.usePlaceholders":true}`},
	}
	for _, tt := range tests {
		sanitizeSettings(tt.in)
		b, _ := json.Marshal(tt.in)
		if string(b) != tt.want {
			t.Errorf("%s: sanitised = %s, want %s", tt.name, b, tt.want)
		}
	}
}
