package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// TestImportFilesRefusesEscapes is PATH-09 for the imports that exist.
// ideserver imports no zip or tar archive (not built); what it imports is a
// map of files: a new workspace's "files" (POST /api/v1/workspaces) and a
// share's snapshot when forked (ForkShare creates the workspace through the
// same Create). A map cannot express a symbolic or hard link, so those
// archive attacks have nothing to act on; what remains is names that
// escape and sizes without bound. Each entry below is refused whole: no
// record, no directory, nothing written outside. The playground's txtar
// bodies are the other import; their names are checked by TestSplitFiles
// and FuzzSplitFiles (playground).
func TestImportFilesRefusesEscapes(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	db, err := store.Open(store.Options{Path: filepath.Join(base, "ideserver.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.EnsureUser(alice.Tenant, alice.User); err != nil {
		t.Fatal(err)
	}
	wsDir := filepath.Join(base, "workspaces")
	const maxFile = 1 << 10
	m, err := workspace.NewManager(workspace.ManagerOptions{Store: db, Dir: wsDir, Files: workspace.FilesOptions{MaxFileSize: maxFile}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })

	tooMany := make(map[string]string, workspace.MaxInitialFiles+1)
	for i := range workspace.MaxInitialFiles + 1 {
		tooMany[fmt.Sprintf("f%d.go", i)] = "x"
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  error
	}{
		{"dot dot entry", map[string]string{"../escaped.go": "x"}, workspace.ErrInvalidPath},
		{"dot dot inside", map[string]string{"a/../../escaped.go": "x"}, workspace.ErrInvalidPath},
		{"dot dot last", map[string]string{"a/..": "x"}, workspace.ErrInvalidPath},
		{"absolute entry", map[string]string{"/tmp/escaped.go": "x"}, workspace.ErrInvalidPath},
		{"double slash", map[string]string{"//tmp/escaped.go": "x"}, workspace.ErrInvalidPath},
		{"windows volume", map[string]string{"C:/escaped.go": "x"}, workspace.ErrInvalidPath},
		{"backslash", map[string]string{`..\escaped.go`: "x"}, workspace.ErrInvalidPath},
		{"nul", map[string]string{"a\x00.go": "x"}, workspace.ErrInvalidPath},
		{"good and bad", map[string]string{"main.go": "package main\n", "../escaped.go": "x"}, workspace.ErrInvalidPath},
		{"too many files", tooMany, workspace.ErrTooLarge},
		{"file too large", map[string]string{"big.txt": strings.Repeat("x", maxFile+1)}, workspace.ErrTooLarge},
	} {
		_, err := m.Create(ctx, alice, workspace.CreateOptions{Name: "import", Files: tc.files})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Create = %v, want %v", tc.name, err, tc.want)
		}
	}
	if list, err := db.ListWorkspaces(alice.Tenant, alice.User); err != nil || len(list) != 0 {
		t.Errorf("refused imports left records: %v, %v", list, err)
	}
	if entries, _ := os.ReadDir(wsDir); len(entries) != 0 {
		t.Errorf("refused imports left directories: %v", entries)
	}
	for _, p := range []string{filepath.Join(base, "escaped.go"), filepath.Join(wsDir, "escaped.go"), "/tmp/escaped.go"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("an import wrote %s", p)
		}
	}
	// The control: a good import works.
	w, err := m.Create(ctx, alice, workspace.CreateOptions{Name: "import", Files: map[string]string{"main.go": "package main\n", "a/b/c.txt": "c"}})
	if err != nil {
		t.Fatalf("good import: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir(w.ID), "a", "b", "c.txt")); err != nil {
		t.Errorf("good import: %v", err)
	}
}
