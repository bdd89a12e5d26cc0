package workspace_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ideserver/ideserver/workspace"
)

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	etag := mustWrite(t, f, "a/b/c.txt", "hello\n")
	data, got, err := f.ReadFile("a/b/c.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "hello\n" || got != etag || etag != workspace.ETag([]byte("hello\n")) {
		t.Fatalf("ReadFile = %q, %s; WriteFile etag %s", data, got, etag)
	}
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) != 34 {
		t.Fatalf("etag %s is not a quoted 32-hex-digit tag", etag)
	}
	if got := readHost(t, filepath.Join(dir, "a/b/c.txt")); got != "hello\n" {
		t.Fatalf("on disk: %q", got)
	}
	// An empty file is a file too.
	mustWrite(t, f, "empty", "")
	if data, _, err := f.ReadFile("empty"); err != nil || len(data) != 0 {
		t.Fatalf("ReadFile(empty) = %q, %v", data, err)
	}
	// No temporary file is left behind.
	if got, want := listTree(t, dir), []string{"a/", "a/b/", "a/b/c.txt", "empty"}; !slices.Equal(got, want) {
		t.Fatalf("tree = %q, want %q", got, want)
	}
}

func TestWriteIfMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		exists  bool
		ifMatch func(etag string) string
		wantErr error
	}{
		{"unconditional existing", true, func(string) string { return "" }, nil},
		{"unconditional new", false, func(string) string { return "" }, nil},
		{"match", true, func(e string) string { return e }, nil},
		{"match in list", true, func(e string) string { return `"0000", ` + e }, nil},
		{"mismatch", true, func(string) string { return workspace.ETag([]byte("other")) }, workspace.ErrPrecondition},
		{"weak tag does not match", true, func(e string) string { return "W/" + e }, workspace.ErrPrecondition},
		{"star existing", true, func(string) string { return "*" }, nil},
		{"star missing", false, func(string) string { return "*" }, workspace.ErrPrecondition},
		{"etag on missing", false, func(string) string { return workspace.ETag([]byte("old")) }, workspace.ErrPrecondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, dir := openFiles(t, workspace.FilesOptions{})
			var etag string
			if tc.exists {
				etag = mustWrite(t, f, "f.txt", "old")
			}
			newTag, err := f.WriteFile("f.txt", strings.NewReader("new"), tc.ifMatch(etag))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("WriteFile = %v, want %v", err, tc.wantErr)
			}
			want := "new"
			if err != nil {
				want = "old"
				if newTag != "" {
					t.Fatalf("etag %q returned with an error", newTag)
				}
			}
			data, cur, rerr := f.ReadFile("f.txt")
			switch {
			case err != nil && !tc.exists:
				if !errors.Is(rerr, workspace.ErrNotFound) {
					t.Fatalf("failed write created the file: %q, %v", data, rerr)
				}
			case rerr != nil:
				t.Fatal(rerr)
			case string(data) != want:
				t.Fatalf("content %q, want %q", data, want)
			case err == nil && cur != newTag:
				t.Fatalf("etag after write %s, WriteFile said %s", cur, newTag)
			}
			if got := listTree(t, dir); slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "ideserver-tmp") }) {
				t.Fatalf("temporary file left: %q", got)
			}
		})
	}
}

func TestWriteConcurrentIfMatch(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	etag := mustWrite(t, f, "f", "v0")
	const writers = 8
	var wins, fails atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			// Distinct contents: equal ones would share an ETag.
			_, err := f.WriteFile("f", strings.NewReader(strings.Repeat("x", 1000+i)), etag)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, workspace.ErrPrecondition):
				fails.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || fails.Load() != writers-1 {
		t.Fatalf("%d writers won and %d failed, want 1 and %d", wins.Load(), fails.Load(), writers-1)
	}
}

func TestWriteTooLarge(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{MaxFileSize: 1024})
	if f.MaxFileSize() != 1024 {
		t.Fatalf("MaxFileSize = %d", f.MaxFileSize())
	}
	mustWrite(t, f, "f", "old")
	mustWrite(t, f, "exact", strings.Repeat("e", 1024))
	for _, rel := range []string{"f", "new/dir/g"} {
		_, err := f.WriteFile(rel, strings.NewReader(strings.Repeat("x", 1025)), "")
		if !errors.Is(err, workspace.ErrTooLarge) {
			t.Fatalf("WriteFile(%q, 1025 bytes) = %v, want ErrTooLarge", rel, err)
		}
	}
	if got := readHost(t, filepath.Join(dir, "f")); got != "old" {
		t.Fatalf("content after failed write %q", got)
	}
	// Nothing changed: no temporary file, no parent directories.
	if got, want := listTree(t, dir), []string{"exact", "f"}; !slices.Equal(got, want) {
		t.Fatalf("tree = %q, want %q", got, want)
	}
	// A file grown on disk beyond the limit is refused on read.
	writeHost(t, dir, "big", strings.Repeat("b", 2000))
	if _, _, err := f.ReadFile("big"); !errors.Is(err, workspace.ErrTooLarge) {
		t.Fatalf("ReadFile(big) = %v, want ErrTooLarge", err)
	}
}

func TestWriteReaderError(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "f", "old")
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom))
	if _, err := f.WriteFile("f", r, ""); !errors.Is(err, boom) {
		t.Fatalf("WriteFile = %v, want the reader's error", err)
	}
	if got, want := listTree(t, dir), []string{"f"}; !slices.Equal(got, want) || readHost(t, filepath.Join(dir, "f")) != "old" {
		t.Fatalf("tree %q after failed write", got)
	}
}

// TestWriteAtomic: a reader never sees anything but one of two complete
// contents while a writer alternates them.
func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	a := bytes.Repeat([]byte("a"), 1<<20)
	b := bytes.Repeat([]byte("b"), 1<<20+7)
	if _, err := f.WriteFile("big", bytes.NewReader(a), ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range 40 {
			content := a
			if i%2 == 0 {
				content = b
			}
			if _, err := f.WriteFile("big", bytes.NewReader(content), ""); err != nil {
				t.Error(err)
				return
			}
		}
	})
	reads := 0
	for {
		select {
		case <-done:
			wg.Wait()
			if reads == 0 {
				t.Fatal("no read happened")
			}
			return
		default:
		}
		data, etag, err := f.ReadFile("big")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, a) && !bytes.Equal(data, b) {
			t.Fatalf("read a partial file of %d bytes", len(data))
		}
		if etag != workspace.ETag(data) {
			t.Fatal("etag does not match content")
		}
		reads++
	}
}

func TestWritePreservesMode(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o750); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "run.sh", "#!/bin/sh\necho hi\n")
	fi, err := os.Stat(filepath.Join(dir, "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 {
		t.Fatalf("mode %v, want 0750", fi.Mode().Perm())
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "file", "x")
	if err := f.Mkdir("dir"); err != nil {
		t.Fatal(err)
	}
	symlink(t, "dir", filepath.Join(dir, "dirlink"))
	tests := []struct {
		name, rel string
		want      error
	}{
		{"root", "", workspace.ErrIsDir},
		{"directory", "dir", workspace.ErrIsDir},
		{"symlink to directory", "dirlink", workspace.ErrIsDir},
		{"parent is a file", "file/x", workspace.ErrNotDir},
		{"deeper parent is a file", "file/x/y", workspace.ErrNotDir},
		{"invalid", "../x", workspace.ErrInvalidPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.WriteFile(tc.rel, strings.NewReader("y"), ""); !errors.Is(err, tc.want) {
				t.Fatalf("WriteFile(%q) = %v, want %v", tc.rel, err, tc.want)
			}
		})
	}
	if got, want := listTree(t, dir), []string{"dir/", "dirlink", "file"}; !slices.Equal(got, want) {
		t.Fatalf("tree = %q, want %q", got, want)
	}
}

// TestWriteReplacesSymlink: writing to a symlink replaces the link with a
// regular file and never writes its target.
func TestWriteReplacesSymlink(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "target", "target content")
	symlink(t, "target", filepath.Join(dir, "link"))
	if data, _, err := f.ReadFile("link"); err != nil || string(data) != "target content" {
		t.Fatalf("ReadFile(link) = %q, %v; want the target followed", data, err)
	}
	mustWrite(t, f, "link", "new")
	if got := readHost(t, filepath.Join(dir, "target")); got != "target content" {
		t.Fatalf("target changed to %q", got)
	}
	if e, err := f.Stat("link"); err != nil || e.Type != workspace.TypeFile {
		t.Fatalf("Stat(link) = %+v, %v; want a file", e, err)
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "dir/file", "x")
	tests := []struct {
		name, rel string
		want      error
	}{
		{"root", "", workspace.ErrIsDir},
		{"directory", "dir", workspace.ErrIsDir},
		{"missing", "nope", workspace.ErrNotFound},
		{"missing in dir", "dir/nope", workspace.ErrNotFound},
		{"below a file", "dir/file/x", workspace.ErrNotDir},
		{"invalid", "dir/../dir/file", workspace.ErrInvalidPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := f.ReadFile(tc.rel); !errors.Is(err, tc.want) {
				t.Fatalf("ReadFile(%q) = %v, want %v", tc.rel, err, tc.want)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rel       string
		recursive bool
		want      error
		wantTree  []string
	}{
		{"file", "top", false, nil, []string{"d/", "d/f", "empty/", "link"}},
		{"empty dir", "empty", false, nil, []string{"d/", "d/f", "link", "top"}},
		{"non-empty dir", "d", false, workspace.ErrNotEmpty, nil},
		{"non-empty dir recursive", "d", true, nil, []string{"empty/", "link", "top"}},
		{"symlink to dir removes the link only", "link", true, nil, []string{"d/", "d/f", "empty/", "top"}},
		{"root", "", true, workspace.ErrInvalidPath, nil},
		{"missing", "nope", false, workspace.ErrNotFound, nil},
		{"invalid", "d/..", true, workspace.ErrInvalidPath, nil},
	}
	full := []string{"d/", "d/f", "empty/", "link", "top"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, dir := openFiles(t, workspace.FilesOptions{})
			mustWrite(t, f, "d/f", "x")
			mustWrite(t, f, "top", "x")
			if err := f.Mkdir("empty"); err != nil {
				t.Fatal(err)
			}
			symlink(t, "d", filepath.Join(dir, "link"))
			err := f.Remove(tc.rel, tc.recursive)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Remove(%q, %v) = %v, want %v", tc.rel, tc.recursive, err, tc.want)
			}
			want := tc.wantTree
			if err != nil {
				want = full
			}
			if got := listTree(t, dir); !slices.Equal(got, want) {
				t.Fatalf("tree = %q, want %q", got, want)
			}
		})
	}
}

func TestMkdir(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "file", "x")
	tests := []struct {
		name, rel string
		want      error
	}{
		{"new", "a", nil},
		{"nested with parents", "b/c/d", nil},
		{"exists", "a", workspace.ErrExists},
		{"exists as file", "file", workspace.ErrExists},
		{"root", "", workspace.ErrExists},
		{"below a file", "file/x", workspace.ErrNotDir},
		{"invalid", "a//b", workspace.ErrInvalidPath},
	}
	for _, tc := range tests { // in order: "exists" relies on "new"
		if err := f.Mkdir(tc.rel); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Mkdir(%q) = %v, want %v", tc.name, tc.rel, err, tc.want)
		}
	}
	if got, want := listTree(t, dir), []string{"a/", "b/", "b/c/", "b/c/d/", "file"}; !slices.Equal(got, want) {
		t.Fatalf("tree = %q, want %q", got, want)
	}
}

func TestRename(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from, to string
		want           error
		wantTree       []string
	}{
		{"file", "a", "a2", nil, []string{"a2", "b", "d/", "d/f"}},
		{"into new parents", "a", "x/y/a", nil, []string{"b", "d/", "d/f", "x/", "x/y/", "x/y/a"}},
		{"directory", "d", "e", nil, []string{"a", "b", "e/", "e/f"}},
		{"onto existing file", "a", "b", workspace.ErrExists, nil},
		{"onto existing dir", "a", "d", workspace.ErrExists, nil},
		{"onto itself", "a", "a", workspace.ErrExists, nil},
		{"missing", "nope", "c", workspace.ErrNotFound, nil},
		{"dir into itself", "d", "d/sub", workspace.ErrInvalidPath, nil},
		{"root", "", "r", workspace.ErrInvalidPath, nil},
		{"to root", "a", "", workspace.ErrInvalidPath, nil},
		{"invalid", "a", "../a", workspace.ErrInvalidPath, nil},
	}
	full := []string{"a", "b", "d/", "d/f"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, dir := openFiles(t, workspace.FilesOptions{})
			mustWrite(t, f, "a", "A")
			mustWrite(t, f, "b", "B")
			mustWrite(t, f, "d/f", "F")
			err := f.Rename(tc.from, tc.to)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Rename(%q, %q) = %v, want %v", tc.from, tc.to, err, tc.want)
			}
			want := tc.wantTree
			if err != nil {
				want = full
				if readHost(t, filepath.Join(dir, "b")) != "B" {
					t.Fatal("b overwritten")
				}
			}
			if got := listTree(t, dir); !slices.Equal(got, want) {
				t.Fatalf("tree = %q, want %q", got, want)
			}
		})
	}
}

func TestReadDirAndStat(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "b.txt", "12345")
	mustWrite(t, f, "a/inner", "x")
	symlink(t, "b.txt", filepath.Join(dir, "c-link"))
	if err := unix.Mkfifo(filepath.Join(dir, "d-fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Minute)

	entries, err := f.ReadDir("")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name, typ string
		size      int64
	}
	var got []row
	for _, e := range entries {
		got = append(got, row{e.Name, e.Type, e.Size})
		if e.ModTime.Before(before) {
			t.Errorf("%s: mtime %v", e.Name, e.ModTime)
		}
	}
	want := []row{
		{"a", workspace.TypeDir, 0},
		{"b.txt", workspace.TypeFile, 5},
		{"c-link", workspace.TypeSymlink, int64(len("b.txt"))},
		{"d-fifo", workspace.TypeOther, 0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ReadDir = %+v, want %+v", got, want)
	}

	if _, err := f.ReadDir("b.txt"); !errors.Is(err, workspace.ErrNotDir) {
		t.Errorf("ReadDir(file) = %v, want ErrNotDir", err)
	}
	if _, err := f.ReadDir("d-fifo"); !errors.Is(err, workspace.ErrNotDir) {
		t.Errorf("ReadDir(fifo) = %v, want ErrNotDir", err)
	}
	if _, err := f.ReadDir("nope"); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("ReadDir(missing) = %v, want ErrNotFound", err)
	}
	if sub, err := f.ReadDir("a"); err != nil || len(sub) != 1 || sub[0].Name != "inner" {
		t.Errorf("ReadDir(a) = %+v, %v", sub, err)
	}

	for _, tc := range []struct{ rel, name, typ string }{
		{"", "", workspace.TypeDir},
		{"a", "a", workspace.TypeDir},
		{"a/inner", "inner", workspace.TypeFile},
		{"c-link", "c-link", workspace.TypeSymlink},
	} {
		e, err := f.Stat(tc.rel)
		if err != nil || e.Name != tc.name || e.Type != tc.typ {
			t.Errorf("Stat(%q) = %+v, %v; want name %q type %s", tc.rel, e, err, tc.name, tc.typ)
		}
	}
	if _, err := f.Stat("nope"); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("Stat(missing) = %v", err)
	}
}

func TestClosedFiles(t *testing.T) {
	t.Parallel()
	f, _ := openFiles(t, workspace.FilesOptions{})
	mustWrite(t, f, "f", "x")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.ReadFile("f"); err == nil {
		t.Fatal("ReadFile after Close succeeded")
	}
	if _, err := f.WriteFile("g", strings.NewReader("x"), ""); err == nil {
		t.Fatal("WriteFile after Close succeeded")
	}
}

func TestOpenFilesErrors(t *testing.T) {
	t.Parallel()
	if _, err := workspace.OpenFiles(filepath.Join(t.TempDir(), "missing"), workspace.FilesOptions{}); err == nil {
		t.Error("OpenFiles(missing dir) succeeded")
	}
	if _, err := workspace.OpenFiles(t.TempDir(), workspace.FilesOptions{MaxFileSize: -1}); err == nil {
		t.Error("OpenFiles with negative MaxFileSize succeeded")
	}
}

// TestErrorsHoldNoHostPath: errors that may reach a client name only what
// the client sent.
func TestErrorsHoldNoHostPath(t *testing.T) {
	t.Parallel()
	f, dir := openFiles(t, workspace.FilesOptions{MaxFileSize: 10})
	mustWrite(t, f, "file", "x")
	symlink(t, "/etc", filepath.Join(dir, "abs"))
	symlink(t, "../..", filepath.Join(dir, "up"))
	var errs []error
	_, _, err := f.ReadFile("abs/passwd")
	errs = append(errs, err)
	_, _, err = f.ReadFile("up/x")
	errs = append(errs, err)
	_, _, err = f.ReadFile("nope")
	errs = append(errs, err)
	_, err = f.WriteFile("file/x", strings.NewReader("x"), "")
	errs = append(errs, err)
	_, err = f.WriteFile("big", strings.NewReader(strings.Repeat("x", 11)), "")
	errs = append(errs, err)
	_, err = f.WriteFile("up/x", strings.NewReader("x"), "")
	errs = append(errs, err)
	_, err = f.ReadDir("file")
	errs = append(errs, err)
	errs = append(errs, f.Remove("nope", false), f.Mkdir("file"), f.Rename("nope", "x"), f.Mkdir("up/x"))
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), os.TempDir()) {
			t.Errorf("case %d: error %q holds a host path", i, err)
		}
	}
}
