package internal_test

import (
	"bytes"
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// Nothing in the repository may point to a file the repository does not
// contain: a newcomer who follows a citation must find what it names.
// TestRepositoryReferences reads every Markdown, Go, TypeScript and
// JavaScript, YAML, HTML and shell file and the Makefile, and checks:
//
//   - Markdown links [text](target) with a relative target: the file or
//     directory exists (relative to the page), and a #fragment names a
//     heading of the page it points to;
//   - mentions of a Markdown file (README.md, docs/api.md): one with a
//     directory exists at that path (from the repository's root or the
//     mentioning file's directory), a bare name exists somewhere;
//   - mentions of a path below one of the repository's top-level
//     directories (server/routes.go, web/test/*.mjs, web/src/): the
//     file, directory or glob exists.
//
// In Go files only comments are read (string literals are data: test
// workspaces hold Markdown files of their own); in TypeScript and
// JavaScript only whole-line comments. URLs are never checked, nor paths
// the repository ignores (build and test output such as
// web/test-artifacts). The tree is what `git ls-files` lists (tracked, or
// new and not ignored) that is still on disk.

// referencePending lists references, by file and target, that are known
// to name no file of the repository, each with the reason it stays. An
// entry that no longer matches anything fails the test, so the list only
// ever shrinks. Keep it empty when the truth allows.
var referencePending = map[[2]string]string{}

// scanExts are the files read, by extension; the Makefile is read too.
var scanExts = map[string]bool{
	".md": true, ".go": true, ".ts": true, ".mjs": true, ".js": true,
	".yaml": true, ".yml": true, ".html": true, ".sh": true,
}

// skipPrefixes are generated or vendored trees: their references are not
// ours to keep.
var skipPrefixes = []string{"web/dist/", "web/node_modules/", "node_modules/"}

var (
	// mdLink is an inline Markdown link or image: [text](target "title").
	mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// urlLike is a URL (scheme://… or mailto:); never checked.
	urlLike = regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)\]>"'` + "`" + `]*|\bmailto:[^\s)\]>]*`)
	// pathMention is a relative path or file name in prose: segments of
	// name characters (and * for globs) separated by slashes.
	pathMention = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.*/~$@-])((?:[A-Za-z0-9_.*-]+/)*[A-Za-z0-9_*-][A-Za-z0-9_.*-]*/?)`)
	// htmlAnchor is an explicit anchor in a Markdown page.
	htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// repoFiles returns the repository's files (slash paths from the root)
// and its directories.
func repoFiles(t *testing.T, root string) (files, dirs map[string]bool) {
	t.Helper()
	files, dirs = make(map[string]bool), map[string]bool{"": true}
	add := func(p string) {
		if p == "" {
			return
		}
		if fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err != nil || fi.IsDir() {
			return // deleted in the work tree, or a submodule
		}
		files[p] = true
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		// The Makefile needs Git as well (the web/dist freshness check).
		t.Skipf("not a Git checkout (git ls-files: %v)", err)
	}
	for p := range bytes.SplitSeq(out, []byte{0}) {
		add(string(p))
	}
	return files, dirs
}

// ignored reports whether Git ignores the slash path p (build or test
// output such as web/test-artifacts/): prose may name such paths, which
// the repository never holds.
func ignored(root, p string) bool {
	cmd := exec.Command("git", "check-ignore", "-q", "--no-index", p)
	cmd.Dir = root
	return cmd.Run() == nil
}

// reference is one citation found in a file.
type reference struct {
	file   string // the citing file
	line   int
	target string // as written, fragment included
	link   bool   // a Markdown link (else a mention in prose)
}

func TestRepositoryReferences(t *testing.T) {
	t.Parallel()
	root := ".."
	files, dirs := repoFiles(t, root)
	topDirs := make(map[string]bool)
	for d := range dirs {
		if d != "" && !strings.Contains(d, "/") && !strings.HasPrefix(d, ".") {
			topDirs[d] = true
		}
	}
	byBase := make(map[string]bool)
	for f := range files {
		byBase[path.Base(f)] = true
	}
	paths := slices.Sorted(func(yield func(string) bool) {
		for f := range files {
			if !yield(f) {
				return
			}
		}
	})

	var refs []reference
	for _, f := range paths {
		if !scanned(f) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, findReferences(f, data, topDirs)...)
	}

	headings := make(map[string]map[string]bool) // page -> anchors
	anchorsOf := func(page string) map[string]bool {
		if a, ok := headings[page]; ok {
			return a
		}
		data, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		a := markdownAnchors(string(data))
		headings[page] = a
		return a
	}

	used := make(map[[2]string]bool)
	for _, r := range refs {
		problem := check(r, files, dirs, byBase, anchorsOf)
		if problem == "" || !r.link && ignored(root, r.target) {
			continue
		}
		key := [2]string{r.file, r.target}
		if _, ok := referencePending[key]; ok {
			used[key] = true
			continue
		}
		t.Errorf("%s:%d: %s %q %s", r.file, r.line, kind(r), r.target, problem)
	}
	for key, why := range referencePending {
		if !used[key] {
			t.Errorf("referencePending lists %s → %q (%s), which is no longer a broken reference: remove the entry", key[0], key[1], why)
		}
	}
	t.Logf("%d references in %d files checked", len(refs), len(paths))
}

func kind(r reference) string {
	if r.link {
		return "links to"
	}
	return "mentions"
}

// scanned reports whether the file at slash path p is read for
// references.
func scanned(p string) bool {
	for _, s := range skipPrefixes {
		if strings.HasPrefix(p, s) {
			return false
		}
	}
	if strings.Contains(p, "/testdata/") {
		return false
	}
	return path.Base(p) == "Makefile" || scanExts[path.Ext(p)]
}

// findReferences returns the citations in the file f with contents data.
func findReferences(f string, data []byte, topDirs map[string]bool) []reference {
	var refs []reference
	for _, c := range proseOf(f, data) {
		text := c.text
		if path.Ext(f) == ".md" {
			for _, m := range mdLink.FindAllStringSubmatchIndex(text, -1) {
				target := text[m[2]:m[3]]
				if !isExternal(target) {
					refs = append(refs, reference{file: f, line: c.line + strings.Count(text[:m[0]], "\n"), target: target, link: true})
				}
			}
			// A link's target is not a mention as well.
			text = mdLink.ReplaceAllStringFunc(text, func(l string) string {
				return l[:strings.LastIndex(l, "](")] + strings.Repeat(" ", len(l)-strings.LastIndex(l, "]("))
			})
		}
		// URLs are blanked (lengths kept, so line numbers hold).
		text = urlLike.ReplaceAllStringFunc(text, func(u string) string { return strings.Repeat(" ", len(u)) })
		for _, m := range pathMention.FindAllStringSubmatchIndex(text, -1) {
			mention := strings.TrimRight(text[m[2]:m[3]], ".")
			if !isCitation(mention, topDirs) {
				continue
			}
			refs = append(refs, reference{file: f, line: c.line + strings.Count(text[:m[2]], "\n"), target: mention})
		}
	}
	return refs
}

// isCitation reports whether a path-like mention names a file of the
// repository: a Markdown file, or a file (a name with an extension), a
// glob or a directory (a trailing slash) below a top-level directory.
// Package paths without a slash at the end (internal/bridge) are not
// checked: prose writes "lsp/dap" for "lsp or dap".
func isCitation(m string, topDirs map[string]bool) bool {
	if strings.HasSuffix(m, ".md") {
		return len(m) > len(".md")
	}
	first, rest, ok := strings.Cut(m, "/")
	if !ok || rest == "" || !topDirs[first] {
		return false
	}
	return strings.HasSuffix(m, "/") || fileExts[path.Ext(m)] || strings.Contains(path.Base(m), "*")
}

// fileExts are the extensions that make a mention a file name rather than
// a qualified Go identifier (cmd/go/internal/cache.ProgCache).
var fileExts = map[string]bool{
	".go": true, ".md": true, ".ts": true, ".mjs": true, ".js": true, ".json": true,
	".yaml": true, ".yml": true, ".html": true, ".css": true, ".sh": true,
	".mod": true, ".sum": true, ".txt": true, ".png": true, ".db": true,
}

// chunk is prose from a file, starting at line.
type chunk struct {
	text string
	line int
}

// proseOf returns the parts of a file that may cite files: the comments
// of Go files, the whole-line comments of TypeScript and JavaScript, and
// all of everything else.
func proseOf(f string, data []byte) []chunk {
	switch path.Ext(f) {
	case ".go":
		var out []chunk
		fset := token.NewFileSet()
		file := fset.AddFile(f, -1, len(data))
		var s scanner.Scanner
		s.Init(file, data, nil, scanner.ScanComments)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				return out
			}
			if tok == token.COMMENT {
				out = append(out, chunk{lit, fset.Position(pos).Line})
			}
		}
	case ".ts", ".mjs", ".js":
		var out []chunk
		inBlock := false
		for i, line := range strings.Split(string(data), "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case inBlock:
				out = append(out, chunk{line, i + 1})
				inBlock = !strings.Contains(line, "*/")
			case strings.HasPrefix(trimmed, "//"):
				out = append(out, chunk{line, i + 1})
			case strings.HasPrefix(trimmed, "/*"):
				out = append(out, chunk{line, i + 1})
				inBlock = !strings.Contains(trimmed[2:], "*/")
			}
		}
		return out
	}
	return []chunk{{string(data), 1}}
}

// isExternal reports whether a link target is outside the repository (a
// URL, a mail address) and so not checked here.
func isExternal(target string) bool {
	return urlLike.MatchString(target) || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "//")
}

// check returns what is wrong with r ("" when nothing is).
func check(r reference, files, dirs, byBase map[string]bool, anchorsOf func(string) map[string]bool) string {
	target, frag, _ := strings.Cut(r.target, "#")
	target, _, _ = strings.Cut(target, "?")
	dir := path.Dir(r.file)
	if !r.link {
		if !strings.Contains(strings.TrimSuffix(target, "/"), "/") {
			// A bare file name (README.md): anywhere in the tree.
			if !byBase[target] {
				return "but no file of the repository has that name"
			}
			return ""
		}
		// From the root (the usual way prose names files), or from the
		// citing file's directory.
		if !exists(target, files, dirs) && !exists(path.Join(dir, target), files, dirs) {
			return "but the repository has no such file or directory"
		}
		return ""
	}
	page := r.file
	if target != "" {
		p := path.Join(dir, target)
		if strings.HasPrefix(target, "/") {
			p = strings.TrimPrefix(path.Clean(target), "/")
		}
		if strings.HasPrefix(p, "../") || p == ".." {
			return "which lies outside the repository"
		}
		if !exists(p, files, dirs) {
			return "but the repository has no such file or directory"
		}
		page = p
	}
	if frag != "" && path.Ext(page) == ".md" && files[page] && !anchorsOf(page)[frag] {
		return fmt.Sprintf("but %s has no heading with the anchor #%s", page, frag)
	}
	return ""
}

// exists reports whether p (a slash path from the root, possibly a glob
// or ending in a slash) names a file or directory of the repository.
func exists(p string, files, dirs map[string]bool) bool {
	p = path.Clean(p)
	if p == "." {
		return true
	}
	if files[p] || dirs[p] {
		return true
	}
	if strings.Contains(p, "*") {
		for f := range files {
			if ok, _ := path.Match(p, f); ok {
				return true
			}
		}
		for d := range dirs {
			if ok, _ := path.Match(p, d); ok {
				return true
			}
		}
	}
	return false
}

// markdownAnchors returns the anchors of a Markdown page: its headings,
// slugged as GitHub does (lower case; letters, digits, spaces, hyphens
// and underscores kept; spaces become hyphens; repeats get -1, -2, …),
// and explicit <a id> or <a name> anchors.
func markdownAnchors(text string) map[string]bool {
	anchors := make(map[string]bool)
	seen := make(map[string]int)
	fence := ""
	for line := range strings.SplitSeq(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[m[1]] = true
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimLeft(line, "#")
		if h != "" && h[0] != ' ' {
			continue // #hashtag, not a heading
		}
		slug := slugify(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(h), "#")))
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// slugify turns a heading into its GitHub anchor.
func slugify(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestReferenceCheckerFinds: the checker itself finds what it must, on
// made-up files, so a regression in it cannot silently pass everything.
func TestReferenceCheckerFinds(t *testing.T) {
	t.Parallel()
	files := map[string]bool{"README.md": true, "docs/api.md": true, "lsp/doc.go": true, "cmd/ideserver/wire_lsp.go": true}
	dirs := map[string]bool{"": true, "docs": true, "lsp": true, "cmd": true, "cmd/ideserver": true}
	byBase := map[string]bool{"README.md": true, "api.md": true, "doc.go": true, "wire_lsp.go": true}
	top := map[string]bool{"docs": true, "lsp": true, "cmd": true}
	anchors := func(page string) map[string]bool {
		return markdownAnchors("# ideserver\n\n## Using the API\n\n```\n# not a heading\n```\n## Layout\n## Layout\n")
	}
	cases := []struct {
		file, text string
		bad        []string // targets that must be reported, in order
	}{
		{"docs/design.md", "See [the API](api.md), [readme](../README.md#layout), [x](../README.md#layout-1) and [web](https://example.com/GONE.md).", nil},
		{"docs/design.md", "See [gone](gone.md), [up](../../x.md) and [bad anchor](../README.md#nope).", []string{"gone.md", "../../x.md", "../README.md#nope"}},
		{"README.md", "Read GONE.md and docs/security.md, not docs/api.md or [this](#using-the-api).", []string{"GONE.md", "docs/security.md"}},
		{"lsp/doc.go", "package lsp\n\n// See RULES.md and lsp/frame.go; cmd/ideserver/wire_*.go is fine.\nvar s = \"notes/todo.md\"\n", []string{"RULES.md", "lsp/frame.go"}},
		{"web/src/x.ts", "// see HOWTO.md\nconst a = 'NOTES.md';\n/* and\n * docs/gone.md\n */\n", []string{"HOWTO.md", "docs/gone.md"}},
	}
	for _, c := range cases {
		var got []string
		for _, r := range findReferences(c.file, []byte(c.text), top) {
			if check(r, files, dirs, byBase, anchors) != "" {
				got = append(got, r.target)
			}
		}
		if !slices.Equal(got, c.bad) {
			t.Errorf("%s: %q: reported %q, want %q", c.file, c.text, got, c.bad)
		}
	}
}
