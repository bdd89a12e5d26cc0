package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

func searchFixture(t *testing.T) (*workspace.Files, string) {
	t.Helper()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "a.go", "package main\n\nfunc Hello() {}\n// hello again, HELLO\n")
	mustWrite(t, f, "sub/b.txt", "héllo wörld hello\r\nnothing\n")
	mustWrite(t, f, "sub/deeper/c.md", "say hello")
	mustWrite(t, f, "bin.dat", "hello\x00binary")
	mustWrite(t, f, "big.txt", "hello\n"+strings.Repeat("x", 2000))
	mustWrite(t, f, ".git/config", "hello from git")
	writeHost(t, dir, ".ideserver-tmp-123", "hello temp")
	symlink(t, "a.go", filepath.Join(dir, "link.go"))
	symlink(t, "sub", filepath.Join(dir, "linkdir"))
	return f, dir
}

func TestSearch(t *testing.T) {
	t.Parallel()
	f, _ := searchFixture(t)
	type m struct {
		path      string
		line, col int
	}
	tests := []struct {
		name string
		q    workspace.SearchQuery
		want []m
	}{
		{
			name: "literal case-insensitive",
			q:    workspace.SearchQuery{Text: "hello", MaxFileSize: 1000},
			want: []m{{"a.go", 3, 6}, {"a.go", 4, 4}, {"a.go", 4, 17}, {"sub/b.txt", 1, 13}, {"sub/deeper/c.md", 1, 5}},
		},
		{
			name: "literal case-sensitive",
			q:    workspace.SearchQuery{Text: "HELLO", CaseSensitive: true, MaxFileSize: 1000},
			want: []m{{"a.go", 4, 17}},
		},
		{
			name: "literal is not a regexp",
			q:    workspace.SearchQuery{Text: "Hello()", MaxFileSize: 1000},
			want: []m{{"a.go", 3, 6}},
		},
		{
			name: "regexp",
			q:    workspace.SearchQuery{Text: `h[eé]llo\b`, Regex: true, CaseSensitive: true, MaxFileSize: 1000},
			want: []m{{"a.go", 4, 4}, {"sub/b.txt", 1, 1}, {"sub/b.txt", 1, 13}, {"sub/deeper/c.md", 1, 5}},
		},
		{
			name: "regexp anchors per line",
			q:    workspace.SearchQuery{Text: `^nothing$`, Regex: true, MaxFileSize: 1000},
			want: []m{{"sub/b.txt", 2, 1}},
		},
		{
			name: "column counts characters",
			q:    workspace.SearchQuery{Text: "wörld", MaxFileSize: 1000},
			want: []m{{"sub/b.txt", 1, 7}},
		},
		{
			name: "large files included under the limit",
			q:    workspace.SearchQuery{Text: "hello", CaseSensitive: true, MaxFileSize: 1 << 20},
			want: []m{{"a.go", 4, 4}, {"big.txt", 1, 1}, {"sub/b.txt", 1, 13}, {"sub/deeper/c.md", 1, 5}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := f.Search(testContext(t), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []m
			for _, x := range res.Matches {
				got = append(got, m{x.Path, x.Line, x.Column})
			}
			if !slices.Equal(got, tc.want) || res.Truncated {
				t.Fatalf("Search(%+v) = %v (truncated %v), want %v", tc.q, got, res.Truncated, tc.want)
			}
		})
	}
}

func TestSearchMatchText(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	long := strings.Repeat("é", 400) + "needle" // 806 bytes
	mustWrite(t, f, "long.txt", long+"\nbad \xff needle\r\n")
	res, err := f.Search(testContext(t), workspace.SearchQuery{Text: "needle"})
	if err != nil || len(res.Matches) != 2 {
		t.Fatalf("Search = %+v, %v", res, err)
	}
	first := res.Matches[0]
	if len(first.Text) > workspace.MaxMatchText || first.Text != strings.Repeat("é", 250) || first.Column != 401 {
		t.Errorf("long line: %d bytes, column %d", len(first.Text), first.Column)
	}
	if second := res.Matches[1]; second.Text != "bad \uFFFD needle" || second.Column != 7 || second.Line != 2 {
		t.Errorf("invalid UTF-8 line: %+v", second)
	}
}

func TestSearchTruncated(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	for i := range 5 {
		mustWrite(t, f, fmt.Sprintf("f%d", i), "x x\nx\n")
	}
	tests := []struct {
		name      string
		max       int
		wantN     int
		truncated bool
	}{
		{"fewer than max", 100, 15, false},
		{"exactly max", 15, 15, false},
		{"more than max", 7, 7, true},
		{"one", 1, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.Search(testContext(t), workspace.SearchQuery{Text: "x", MaxResults: tc.max})
			if err != nil || len(res.Matches) != tc.wantN || res.Truncated != tc.truncated {
				t.Fatalf("got %d matches, truncated %v, err %v; want %d, %v", len(res.Matches), res.Truncated, err, tc.wantN, tc.truncated)
			}
		})
	}
}

func TestSearchInvalidQuery(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	for _, q := range []workspace.SearchQuery{
		{},
		{Text: "(", Regex: true},
		{Text: "a{2000}", Regex: true},
		{Text: strings.Repeat("a", workspace.MaxQueryLen+1)},
		{Text: "a", MaxResults: -1},
	} {
		res, err := f.Search(testContext(t), q)
		if !errors.Is(err, workspace.ErrInvalidQuery) {
			t.Errorf("Search(%.40q, regex %v) = %v, want ErrInvalidQuery", q.Text, q.Regex, err)
		}
		if res.Matches == nil {
			t.Errorf("Matches is nil")
		}
	}
	// "(" is fine as a literal.
	if _, err := f.Search(testContext(t), workspace.SearchQuery{Text: "("}); err != nil {
		t.Errorf("literal (: %v", err)
	}
}

func TestSearchCanceled(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	for i := range 20 {
		mustWrite(t, f, fmt.Sprintf("d%d/f", i), "match\n")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := f.Search(ctx, workspace.SearchQuery{Text: "match"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Search with canceled ctx = %v", err)
	}
	if len(res.Matches) != 0 {
		t.Fatalf("canceled search found %d matches", len(res.Matches))
	}
	// The same search uncanceled finds them all.
	res, err = f.Search(testContext(t), workspace.SearchQuery{Text: "match"})
	if err != nil || len(res.Matches) != 20 {
		t.Fatalf("Search = %d matches, %v", len(res.Matches), err)
	}
}

// TestSearchUnicodeFolds: case-insensitive literals match what Go's
// case folding matches, including non-ASCII characters folding to ASCII.
func TestSearchUnicodeFolds(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "fold.txt", "x\n\u212Aelvin \u017Ftop\nKELVIN\n")
	tests := []struct {
		text string
		want []int // lines
	}{
		{"kelvin", []int{2, 3}},
		{"stop", []int{2}},
		{"ELVIN", []int{2, 3}},
	}
	for _, tc := range tests {
		res, err := f.Search(testContext(t), workspace.SearchQuery{Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		var lines []int
		for _, m := range res.Matches {
			lines = append(lines, m.Line)
		}
		if !slices.Equal(lines, tc.want) {
			t.Errorf("Search(%q) lines %v, want %v", tc.text, lines, tc.want)
		}
	}
}
