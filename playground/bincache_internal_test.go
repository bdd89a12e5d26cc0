package playground

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestToolchainID: the binary cache's key changes when a tool of GOROOT
// is replaced or touched, and nothing is cached without a VERSION file.
func TestToolchainID(t *testing.T) {
	root := t.TempDir()
	tools := filepath.Join(root, "pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH)
	files := []string{
		filepath.Join(root, "VERSION"), filepath.Join(root, "bin", "go"),
		filepath.Join(tools, "compile"), filepath.Join(tools, "link"),
		filepath.Join(tools, "asm"), filepath.Join(tools, "vet"),
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("v1"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &Service{opts: Options{GOROOT: root}}
	id := func() string {
		t.Helper()
		v, ok := s.toolchainID()
		if !ok {
			t.Fatal("no toolchain id")
		}
		return v
	}
	a := id()
	if b := id(); a != b {
		t.Fatalf("the id changes by itself: %s, %s", a, b)
	}
	link := filepath.Join(tools, "link")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(link, later, later); err != nil {
		t.Fatal(err)
	}
	b := id()
	if b == a {
		t.Error("touching link kept the id")
	}
	// A new file of the same size in its place (as an installation does).
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link, []byte("v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if c := id(); c == b || c == a {
		t.Error("replacing link kept the id")
	}
	if err := os.Remove(filepath.Join(root, "VERSION")); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.toolchainID(); ok {
		t.Error("an id without VERSION")
	}
}

// TestBinCacheBounds: the cache keeps at most its number of entries and
// bytes, dropping the least recently used; what it keeps is what the file
// held; after close it keeps nothing.
func TestBinCacheBounds(t *testing.T) {
	runDir := t.TempDir()
	r, err := os.OpenRoot(runDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	put := func(c *binCache, key string, size int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(runDir, "prog.exe"), []byte(strings.Repeat(key[:1], size)), 0o700); err != nil {
			t.Fatal(err)
		}
		c.put(key, r, "prog.exe")
	}
	has := func(c *binCache, key string) bool {
		b := c.get(key, false)
		if b == nil {
			return false
		}
		if b[0] != key[0] {
			t.Errorf("entry %s holds %q", key, b)
		}
		return true
	}

	c := newBinCache(2, 100)
	put(c, "a1", 10)
	put(c, "b1", 10)
	if !has(c, "a1") { // a1 is now the most recently used
		t.Fatal("a1 missing")
	}
	put(c, "c1", 10)
	if has(c, "b1") || !has(c, "a1") || !has(c, "c1") {
		t.Error("the least recently used entry (b1) should have gone, and only it")
	}
	if c.get("a1", true) != nil {
		t.Error("an entry not vetted served a request with vet")
	}
	c.vetted("a1")
	if c.get("a1", true) == nil {
		t.Error("a vetted entry did not serve a request with vet")
	}
	put(c, "d1", 95) // over the byte bound with any other entry
	if has(c, "a1") || has(c, "c1") || !has(c, "d1") {
		t.Error("the byte bound kept older entries")
	}
	put(c, "e1", 101) // larger than the bound: not kept
	if has(c, "e1") || c.bytes != 95 || c.lru.Len() != 1 {
		t.Errorf("an entry above the byte bound was kept, or the count is wrong: %d bytes in %d entries", c.bytes, c.lru.Len())
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(runDir, "link.exe")); err != nil {
		t.Fatal(err)
	}
	c.put("g1", r, "link.exe") // leads out of the run directory
	if has(c, "g1") {
		t.Error("a symlink out of the run directory was followed")
	}
	c.close()
	put(c, "f1", 10)
	if has(c, "f1") || has(c, "d1") {
		t.Error("an entry was kept after close")
	}
	if newBinCache(-1, 0) != nil {
		t.Error("a negative size should turn the cache off")
	}
}
