package workspace_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/workspace"
)

// refused reports whether err is one of the errors an escape may give.
func refused(err error) bool {
	return errors.Is(err, workspace.ErrInvalidPath) || errors.Is(err, workspace.ErrNotFound) ||
		errors.Is(err, workspace.ErrNotDir)
}

// TestSymlinkEscapes covers PATH-03 and PATH-07: symlinks leading out
// (absolute, relative, chains, loops, dangling) are never followed out of
// the workspace, by any operation.
func TestSymlinkEscapes(t *testing.T) {
	t.Parallel()
	fx := newEscapeFixture(t)
	links := map[string]string{
		"abs":      fx.outside,
		"absfile":  filepath.Join(fx.outside, "secret"),
		"rel":      "../outside",
		"relfile":  "../outside/secret",
		"up":       "..",
		"c1":       "c2",
		"c2":       "sub/c3",
		"sub/c3":   "../..", // c1 -> c2 -> sub/c3 -> ../.. = base
		"loop1":    "loop2",
		"loop2":    "loop1",
		"self":     "self",
		"dang":     "../outside/created",
		"dangabs":  filepath.Join(fx.outside, "created"),
		"rootlink": "/",
	}
	if err := os.Mkdir(filepath.Join(fx.ws, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range links {
		symlink(t, target, filepath.Join(fx.ws, link))
	}

	reads := []string{
		"abs/secret", "absfile", "rel/secret", "relfile", "up/outside/secret", "up/server.db",
		"c1/outside/secret", "c1/server.db", "loop1", "loop1/x", "self", "dang", "dangabs",
		"rootlink/etc/passwd", "sub/c3/outside/secret",
	}
	for _, rel := range reads {
		t.Run("read "+rel, func(t *testing.T) {
			data, _, err := fx.f.ReadFile(rel)
			if !refused(err) {
				t.Errorf("ReadFile(%q) = %q, %v; want refused", rel, data, err)
			}
			if e, err := fx.f.Stat(rel); err == nil && strings.Contains(rel, "/") {
				t.Errorf("Stat(%q) = %+v through an escaping link", rel, e)
			}
		})
	}
	for _, rel := range []string{"abs", "rel", "up", "c1", "rootlink", "loop1", "sub/c3"} {
		if entries, err := fx.f.ReadDir(rel); !refused(err) {
			t.Errorf("ReadDir(%q) = %+v, %v; want refused", rel, entries, err)
		}
	}
	writes := []string{
		"abs/new", "rel/new", "up/new", "up/outside/new", "c1/outside/new", "rootlink/tmp/new",
		"dang/x", "loop1/x", "abs/deep/er/new", "rel/secret",
	}
	for _, rel := range writes {
		if _, err := fx.f.WriteFile(rel, strings.NewReader("pwned"), ""); err == nil {
			t.Errorf("WriteFile(%q) succeeded", rel)
		}
	}
	for _, rel := range []string{"abs/d", "rel/d", "up/d", "c1/outside/d", "rel/a/b/c"} {
		if err := fx.f.Mkdir(rel); err == nil {
			t.Errorf("Mkdir(%q) succeeded", rel)
		}
	}
	for _, rel := range []string{"abs/secret", "rel/secret", "up/server.db", "c1/outside/secret"} {
		if err := fx.f.Remove(rel, true); err == nil {
			t.Errorf("Remove(%q) succeeded", rel)
		}
		if err := fx.f.Rename(rel, "stolen"); err == nil {
			t.Errorf("Rename(%q, stolen) succeeded", rel)
		}
	}
	mustWrite(t, fx.f, "mine", "x")
	for _, to := range []string{"abs/mine", "rel/mine", "up/mine", "dang/mine"} {
		if err := fx.f.Rename("mine", to); err == nil {
			t.Errorf("Rename(mine, %q) succeeded", to)
		}
	}
	// "link/" is refused as a path before any resolution.
	if _, _, err := fx.f.ReadFile("rel/"); !errors.Is(err, workspace.ErrInvalidPath) {
		t.Errorf("ReadFile(rel/) = %v", err)
	}
	// The search walk does not follow any of them.
	res, err := fx.f.Search(context.Background(), workspace.SearchQuery{Text: outsideSecret})
	if err != nil || len(res.Matches) != 0 {
		t.Errorf("Search found %+v, %v", res.Matches, err)
	}
	fx.checkUntouched(t)

	// A dangling link is replaced by the write, its target never created.
	if _, err := fx.f.WriteFile("dang", strings.NewReader("inside"), ""); err != nil {
		t.Fatal(err)
	}
	if e, err := fx.f.Stat("dang"); err != nil || e.Type != workspace.TypeFile {
		t.Fatalf("Stat(dang) = %+v, %v", e, err)
	}
	// Removing a link to outside removes the link only.
	if err := fx.f.Remove("abs", true); err != nil {
		t.Fatal(err)
	}
	if err := fx.f.Remove("rel", false); err != nil {
		t.Fatal(err)
	}
	fx.checkUntouched(t)
}

// TestSymlinkSwapRace covers PATH-04: a directory is swapped for a symlink
// leading out, in a loop, while other goroutines read, write, list, make,
// remove and rename through it. Nothing outside may be read or touched.
func TestSymlinkSwapRace(t *testing.T) {
	t.Parallel()
	fx := newEscapeFixture(t)
	d := filepath.Join(fx.ws, "d")
	writeHost(t, fx.ws, "d/secret", "inside")

	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var swaps int
	// RENAME_EXCHANGE swaps d and a link atomically, so d always exists
	// (else a write might create a fresh directory d in the gap).
	links := []string{d + ".abs", d + ".rel"}
	symlink(t, fx.outside, links[0])
	symlink(t, "../outside", links[1])
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			link := links[i%2]
			for range 2 { // out and back
				if err := unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
					t.Error(err)
					return
				}
			}
			swaps++
		}
	})
	ops := []func(i int){
		func(int) {
			if data, _, err := fx.f.ReadFile("d/secret"); err == nil && string(data) != "inside" {
				t.Errorf("read %q through the swapped link", data)
			}
		},
		func(i int) { _, _ = fx.f.WriteFile("d/w"+string(rune('a'+i%26)), strings.NewReader("w"), "") },
		func(int) { _, _ = fx.f.WriteFile("d/secret", strings.NewReader("inside"), "") },
		func(int) {
			entries, _ := fx.f.ReadDir("d")
			for _, e := range entries {
				if e.Size == int64(len(outsideSecret)) {
					t.Errorf("listed an outside-looking entry %+v", e)
				}
			}
		},
		func(i int) { _ = fx.f.Mkdir("d/m" + string(rune('a'+i%26))) },
		func(i int) { _ = fx.f.Remove("d/m"+string(rune('a'+i%26)), true) },
		func(int) { _ = fx.f.Rename("d/secret", "moved") },
		func(int) { _ = fx.f.Rename("moved", "d/secret") },
		func(int) { _, _ = fx.f.Stat("d/secret") },
		func(int) {
			res, _ := fx.f.Search(ctx, workspace.SearchQuery{Text: outsideSecret})
			if len(res.Matches) > 0 {
				t.Errorf("search found %+v", res.Matches)
			}
		},
	}
	for _, op := range ops {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				op(i)
			}
		})
	}
	wg.Wait()
	if swaps == 0 {
		t.Fatal("no swap happened")
	}
	t.Logf("%d swaps", swaps)
	fx.checkUntouched(t)
}

// TestSpecialFiles covers PATH-08: /proc files, devices, fifos and sockets
// are refused by ReadFile without hanging and without being read.
func TestSpecialFiles(t *testing.T) {
	t.Parallel()
	fx := newEscapeFixture(t)
	ws := fx.ws
	symlink(t, "/proc/self/environ", filepath.Join(ws, "environ"))
	symlink(t, strings.Repeat("../", 20)+"proc/self/environ", filepath.Join(ws, "environ-rel"))
	symlink(t, "/dev/zero", filepath.Join(ws, "zero"))
	symlink(t, strings.Repeat("../", 20)+"dev/zero", filepath.Join(ws, "zero-rel"))
	if err := unix.Mkfifo(filepath.Join(ws, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, "fifo", filepath.Join(ws, "fifo-link"))
	cases := []string{"environ", "environ-rel", "zero", "zero-rel", "fifo", "fifo-link"}
	// A device node inside the workspace, where this process may make one.
	if err := unix.Mknod(filepath.Join(ws, "zerodev"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err == nil {
		cases = append(cases, "zerodev")
	} else {
		t.Logf("no device node: %v", err)
	}
	if l, err := net.Listen("unix", filepath.Join(ws, "sock")); err == nil {
		defer l.Close()
		cases = append(cases, "sock")
	}
	for _, rel := range cases {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			type result struct {
				data []byte
				err  error
			}
			done := make(chan result, 1)
			go func() {
				data, _, err := fx.f.ReadFile(rel)
				done <- result{data, err}
			}()
			select {
			case r := <-done:
				if !errors.Is(r.err, workspace.ErrInvalidPath) && !errors.Is(r.err, workspace.ErrNotFound) {
					t.Fatalf("ReadFile(%q) = %d bytes, %v; want refused", rel, len(r.data), r.err)
				}
			case <-time.After(waitLong):
				t.Fatalf("ReadFile(%q) hangs", rel)
			}
		})
	}
	// Listing and searching pass over them without hanging.
	t.Run("list and search", func(t *testing.T) {
		t.Parallel()
		if _, err := fx.f.ReadDir(""); err != nil {
			t.Fatal(err)
		}
		res, err := fx.f.Search(testContext(t), workspace.SearchQuery{Text: "PATH"})
		if err != nil || len(res.Matches) != 0 {
			t.Fatalf("Search = %+v, %v", res, err)
		}
	})
}
