package playground

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/tools/go/ast/astutil"
)

// stdImports adds missing and removes unused imports of the standard
// library only, as the Go Playground's /fmt?imports=true does.
//
// It never runs the go command (golang.org/x/tools/imports.Process runs
// "go env" and "go list" on the host with the server's environment, and
// scans GOROOT, GOPATH and the module cache), and it does not link
// x/tools's own table of the standard library (about 0.8 MB allocated at
// every start of the server). Instead the exported names of each standard
// package are read once, lazily, from GOROOT/api/go1*.txt (the files the
// Go release checks its API against), and only packages listed there are
// candidates; groupImports then sorts and groups the import blocks as
// goimports does. Its methods are safe for concurrent use.
type stdImports struct {
	goroot string
	once   sync.Once
	byName map[string][]stdPackage // package name -> packages, preferred first
	err    error
}

// stdPackage is one standard library package and its exported names.
type stdPackage struct {
	path    string
	exports map[string]bool
}

// errNoStdIndex is returned when GOROOT/api cannot be read.
var errNoStdIndex = errors.New("the standard library index is not available")

// load reads the index once.
func (si *stdImports) load() (map[string][]stdPackage, error) {
	si.once.Do(func() { si.byName, si.err = readAPI(filepath.Join(si.goroot, "api")) })
	return si.byName, si.err
}

// readAPI builds the index from dir's go1*.txt files.
func readAPI(dir string) (map[string][]stdPackage, error) {
	names, err := filepath.Glob(filepath.Join(dir, "go1*.txt"))
	if err != nil || len(names) == 0 {
		return nil, errNoStdIndex
	}
	pkgs := make(map[string]map[string]bool)
	for _, name := range names {
		if err := readAPIFile(name, pkgs); err != nil {
			return nil, errNoStdIndex
		}
	}
	byName := make(map[string][]stdPackage)
	for p, ex := range pkgs {
		n := stdPackageName(p)
		byName[n] = append(byName[n], stdPackage{path: p, exports: ex})
	}
	for n, list := range byName {
		slices.SortFunc(list, func(a, b stdPackage) int { return comparePaths(n, a.path, b.path) })
	}
	return byName, nil
}

// readAPIFile adds the top-level exported names of lines such as
// "pkg net/http (linux-amd64), func Get(string) (*Response, error)".
func readAPIFile(name string, pkgs map[string]map[string]bool) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "pkg ")
		if !ok {
			continue
		}
		p, decl, ok := strings.Cut(line, ", ")
		if !ok {
			continue
		}
		p, _, _ = strings.Cut(p, " ")
		if p == "unsafe" || strings.Contains(p, "internal") || strings.HasPrefix(p, "syscall/js") {
			continue
		}
		kind, rest, ok := strings.Cut(decl, " ")
		if !ok || (kind != "const" && kind != "func" && kind != "type" && kind != "var") {
			continue // methods and anything unknown
		}
		sym := rest
		if i := strings.IndexAny(sym, " (,["); i >= 0 {
			sym = sym[:i]
		}
		if !token.IsExported(sym) {
			continue
		}
		ex := pkgs[p]
		if ex == nil {
			ex = make(map[string]bool)
			pkgs[p] = ex
		}
		ex[sym] = true
	}
	return sc.Err()
}

// stdPackageName is the name a standard package path declares:
// "math/rand/v2" is rand.
func stdPackageName(p string) string {
	base := path.Base(p)
	if len(base) > 1 && base[0] == 'v' {
		if _, err := strconv.Atoi(base[1:]); err == nil && strings.Contains(p, "/") {
			return path.Base(path.Dir(p))
		}
	}
	return base
}

// comparePaths orders candidates as goimports does for the playground:
// crypto/rand before math/rand (its policy), otherwise shorter paths first.
func comparePaths(name, a, b string) int {
	rank := func(p string) int {
		if name == "rand" {
			switch p {
			case "crypto/rand":
				return 0
			case "math/rand":
				return 1
			}
			return 2
		}
		return 0
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// fix returns src (the file name) with imports of the standard library
// added for unresolved references and unused imports removed, formatted
// as goimports formats. A syntax error is returned as "name:line:col: msg".
func (si *stdImports) fix(name string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	index, err := si.load()
	if err != nil {
		return nil, err
	}
	refs := make(map[string]map[string]bool) // unresolved X of X.Sel -> Sels
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || x.Obj != nil || !ast.IsExported(sel.Sel.Name) {
			return true
		}
		if refs[x.Name] == nil {
			refs[x.Name] = make(map[string]bool)
		}
		refs[x.Name][sel.Sel.Name] = true
		return true
	})
	changed := false
	// Remove unused imports (never blank, dot or cgo ones).
	imported := make(map[string]bool)
	for _, imp := range slices.Clone(f.Imports) {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p == "C" {
			continue
		}
		local := importName(p, index)
		if imp.Name != nil {
			local = imp.Name.Name
		}
		if local == "_" || local == "." {
			continue
		}
		if _, used := refs[local]; used {
			imported[local] = true
			continue
		}
		if imp.Name != nil {
			astutil.DeleteNamedImport(fset, f, imp.Name.Name, p)
		} else {
			astutil.DeleteImport(fset, f, p)
		}
		changed = true
	}
	// Add missing ones, in a stable order.
	decls := topLevelNames(f)
	var missing []string
	for x := range refs {
		if !imported[x] && !decls[x] {
			missing = append(missing, x)
		}
	}
	slices.Sort(missing)
	for _, x := range missing {
		for _, c := range index[x] {
			if hasAll(c.exports, refs[x]) {
				astutil.AddImport(fset, f, c.path)
				changed = true
				break
			}
		}
	}
	out := src
	if changed {
		var buf bytes.Buffer
		if err := format.Node(&buf, fset, f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = buf.Bytes()
	}
	return groupImports(name, out)
}

// importName is the package name an import of p binds: the index's for a
// standard package, else goimports' guess from the path.
func importName(p string, index map[string][]stdPackage) string {
	n := stdPackageName(p)
	for _, c := range index[n] {
		if c.path == p {
			return n
		}
	}
	n = strings.TrimPrefix(n, "go-")
	n, _, _ = strings.Cut(n, ".")
	return strings.ReplaceAll(n, "-", "_")
}

// topLevelNames are the names f declares at package level.
func topLevelNames(f *ast.File) map[string]bool {
	names := make(map[string]bool)
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				case *ast.TypeSpec:
					names[s.Name.Name] = true
				}
			}
		}
	}
	return names
}

func hasAll(exports, syms map[string]bool) bool {
	for s := range syms {
		if !exports[s] {
			return false
		}
	}
	return true
}
