package lsp

import (
	"encoding/json"
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
		got, err := applyChanges(tt.text, tt.changes, tt.enc)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := applyChanges("x", []any{map[string]any{"range": "bad", "text": ""}}, encUTF16); err == nil {
		t.Error("a bad range applies")
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
