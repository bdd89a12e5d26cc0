package workspace

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxInitialFiles caps how many files a new workspace may be created with.
const MaxInitialFiles = 1000

// templates returns the starting contents a workspace can be created
// from, by name. Each builds and runs with `go run .`.
func templates() map[string]map[string]string {
	return map[string]map[string]string{
		"hello": {
			"go.mod": "module hello\n\ngo 1.26\n",
			"main.go": `package main

import "fmt"

func main() {
	fmt.Println("Hello, ideserver!")
}
`,
		},
	}
}

// Templates lists the template names Create accepts.
func Templates() []string {
	return slices.Sorted(maps.Keys(templates()))
}

// initialFiles merges the template's files with the explicit ones (explicit
// files win) and checks every path.
func initialFiles(opts CreateOptions) (map[string]string, error) {
	files := make(map[string]string)
	if opts.Template != "" {
		t, ok := templates()[opts.Template]
		if !ok {
			return nil, fmt.Errorf("%w %q (known: %s)", ErrTemplate, opts.Template, strings.Join(Templates(), ", "))
		}
		maps.Copy(files, t)
	}
	if len(opts.Files) > MaxInitialFiles {
		return nil, fmt.Errorf("%w: at most %d files", ErrTooLarge, MaxInitialFiles)
	}
	for p, content := range opts.Files {
		clean, err := CleanPath(p)
		if err != nil {
			return nil, err
		}
		if clean == "" {
			return nil, fmt.Errorf("%w: %q names the workspace root", ErrInvalidPath, p)
		}
		files[clean] = content
	}
	return files, nil
}
