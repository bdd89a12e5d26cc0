package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// WriteFile replaces the content of the file rel with what r yields and
// returns the new ETag. It blocks until r is drained (or MaxFileSize+1
// bytes were read) and the change is on disk.
//
// The write is atomic: the content goes to a temporary file in rel's
// directory (named ".ideserver-tmp-…", which Watchers ignore), is synced,
// renamed over rel, and the directory is synced, so a reader sees the old or
// the new content, never a mix, and a crash leaves one of them. Missing
// parent directories are created. An existing regular file keeps its mode
// bits; a new one gets 0644 before umask. A symlink at rel is replaced by a
// regular file; its target is never written.
//
// ifMatch "" writes unconditionally; "*" requires a regular file to exist
// at rel; anything else must equal the current ETag (a comma-separated list
// of ETags matches any of them), else the error is ErrPrecondition. The
// check and the rename are serialised per Files, so of two writers with the
// same ifMatch at most one wins.
//
// Content longer than MaxFileSize gives ErrTooLarge; writing over a
// directory gives ErrIsDir. On any error nothing changed: the temporary file
// and the parents this call created are removed. An error from r is
// returned wrapped.
func (f *Files) WriteFile(rel string, r io.Reader, ifMatch string) (etag string, err error) {
	rel, err = CleanPath(rel)
	if err != nil {
		return "", err
	}
	if rel == "" {
		return "", fmt.Errorf("%w: %q", ErrIsDir, rel)
	}
	if fi, err := f.root.Stat(rel); err == nil && fi.IsDir() {
		return "", fmt.Errorf("%w: %q", ErrIsDir, rel)
	}
	dir := parentOf(rel)

	f.mu.Lock()
	created, err := f.mkdirAll(dir)
	var tmp *os.File
	var tmpRel string
	if err == nil {
		tmp, tmpRel, err = f.createTemp(dir, rel)
	}
	if err != nil {
		f.removeCreated(created)
		f.mu.Unlock()
		return "", err
	}
	f.mu.Unlock()

	committed := false
	defer func() {
		_ = tmp.Close()
		if !committed {
			f.mu.Lock()
			_ = f.root.Remove(tmpRel)
			f.removeCreated(created)
			f.mu.Unlock()
		}
	}()

	h := sha256.New()
	if err := f.copyLimited(rel, io.MultiWriter(tmp, h), r); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", fsError("write", rel, err)
	}

	f.mu.Lock()
	err = f.commit(rel, tmp, tmpRel, ifMatch)
	committed = err == nil
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	if err := f.syncDir(dir); err != nil {
		return "", fsError("write", rel, err)
	}
	return etagOf(h.Sum(nil)), nil
}

// copyLimited copies at most MaxFileSize bytes from r to w, and fails with
// ErrTooLarge if r has more. Errors from w (the temporary file) lose their
// host path; errors from r are wrapped as they are.
func (f *Files) copyLimited(rel string, w io.Writer, r io.Reader) error {
	buf := make([]byte, 64<<10)
	var n int64
	for {
		nr, rerr := r.Read(buf)
		if nr > 0 {
			n += int64(nr)
			if n > f.maxSize {
				return fmt.Errorf("%w: %q: larger than %d bytes", ErrTooLarge, rel, f.maxSize)
			}
			if _, werr := w.Write(buf[:nr]); werr != nil {
				return fsError("write", rel, werr)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("write %q: read content: %w", rel, rerr)
		}
	}
}

// commit checks ifMatch against the current content of rel and renames the
// temporary file over it. Callers hold f.mu.
func (f *Files) commit(rel string, tmp *os.File, tmpRel, ifMatch string) error {
	fi, err := f.root.Lstat(rel)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError("write", rel, err)
	}
	if exists && fi.IsDir() {
		return fmt.Errorf("%w: %q", ErrIsDir, rel)
	}
	if err := f.checkIfMatch(rel, ifMatch); err != nil {
		return err
	}
	if exists && fi.Mode().IsRegular() {
		if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
			return fsError("write", rel, err)
		}
	}
	if err := f.root.Rename(tmpRel, rel); err != nil {
		return fsError("write", rel, err)
	}
	return nil
}

func (f *Files) checkIfMatch(rel, ifMatch string) error {
	ifMatch = strings.TrimSpace(ifMatch)
	switch ifMatch {
	case "":
		return nil
	case "*":
		fi, err := f.root.Stat(rel)
		if err == nil && fi.Mode().IsRegular() {
			return nil
		}
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %q does not exist", ErrPrecondition, rel)
		}
		return fsError("write", rel, err)
	}
	data, err := f.readRegular(rel)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %q does not exist", ErrPrecondition, rel)
	}
	if err != nil {
		return err
	}
	current := ETag(data)
	for tag := range strings.SplitSeq(ifMatch, ",") {
		if strings.TrimSpace(tag) == current {
			return nil
		}
	}
	return fmt.Errorf("%w: %q changed", ErrPrecondition, rel)
}

// createTemp creates an empty temporary file in dir for the target rel.
// Callers hold f.mu.
func (f *Files) createTemp(dir, rel string) (*os.File, string, error) {
	var rnd [8]byte
	for range 10 {
		rand.Read(rnd[:])
		name := path.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
		tmp, err := f.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil && f.owner != noOwner {
			// fchown before the rename: the file appears already owned.
			if err := tmp.Chown(f.owner, f.owner); err != nil {
				_ = tmp.Close()
				_ = f.root.Remove(name)
				return nil, "", fsError("write", rel, err)
			}
		}
		if err == nil {
			return tmp, name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", fsError("write", rel, err)
		}
	}
	return nil, "", fmt.Errorf("write %q: no unused temporary name", rel)
}

// syncDir makes a rename in dir durable.
func (f *Files) syncDir(dir string) error {
	d, err := f.root.OpenFile(osName(dir), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
