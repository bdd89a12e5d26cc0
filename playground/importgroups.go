package playground

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// groupImports formats src (a Go file) as goimports does its import
// blocks: gofmt sorts each run of imports (lines without a blank line or
// comment between them), and a run that mixes standard packages with
// others is first split into the standard ones, a blank line, and the
// others. Runs with a comment, or with more than one import on a line,
// are left as gofmt leaves them.
func groupImports(name string, src []byte) ([]byte, error) {
	out, err := format.Source(src)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, out, parser.ParseComments|parser.ImportsOnly)
	if err != nil {
		return out, nil // formatted already; nothing to group
	}
	lines := bytes.SplitAfter(out, []byte("\n"))
	var split []int // 0-based lines before which a blank line goes, ascending
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT || !g.Lparen.IsValid() || hasComment(f, fset, g) {
			continue
		}
		split = append(split, splitRuns(fset, g.Specs, lines)...)
	}
	if len(split) == 0 {
		return out, nil
	}
	var b bytes.Buffer
	for i, l := range lines {
		if len(split) > 0 && split[0] == i {
			b.WriteByte('\n')
			split = split[1:]
		}
		b.Write(l)
	}
	return format.Source(b.Bytes())
}

// splitRuns moves, in lines, the standard imports of each run of specs
// that mixes them with others before the others, and returns the line
// where the others then start, for each such run.
func splitRuns(fset *token.FileSet, specs []ast.Spec, lines [][]byte) []int {
	var at []int
	for start := 0; start < len(specs); {
		end := start + 1
		for end < len(specs) && fset.Position(specs[end].Pos()).Line == fset.Position(specs[end-1].End()).Line+1 {
			end++
		}
		run := specs[start:end]
		start = end
		first := fset.Position(run[0].Pos()).Line - 1
		if fset.Position(run[len(run)-1].End()).Line-1 != first+len(run)-1 {
			continue // more than one import on a line
		}
		var std, other [][]byte
		for i, s := range run {
			p, err := strconv.Unquote(s.(*ast.ImportSpec).Path.Value)
			if err != nil {
				return at
			}
			if isStdPath(p) {
				std = append(std, lines[first+i])
			} else {
				other = append(other, lines[first+i])
			}
		}
		if len(std) == 0 || len(other) == 0 {
			continue
		}
		copy(lines[first:], append(std, other...))
		at = append(at, first+len(std))
	}
	return at
}

// hasComment reports whether a comment lies inside g.
func hasComment(f *ast.File, fset *token.FileSet, g *ast.GenDecl) bool {
	for _, c := range f.Comments {
		if c.Pos() > g.Pos() && c.End() < g.End() {
			return true
		}
	}
	return false
}

// isStdPath reports whether an import path is the standard library's by
// goimports' rule: its first element has no dot.
func isStdPath(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}
