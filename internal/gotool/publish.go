package gotool

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// makeDir creates Dir (and its parents) and gives Dir mode 0755 whatever
// the umask, so built and published tools can be run by other uids.
func (in *Installer) makeDir() error {
	if err := os.MkdirAll(in.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create tools directory: %w", err)
	}
	if err := os.Chmod(in.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create tools directory: %w", err)
	}
	return nil
}

// publish copies the configured binary src of t into Dir as NAME-HASH
// (mode 0755) unless that copy exists, and returns the copy's path. The
// copy is written to a temporary file and renamed, so an existing NAME-HASH
// is always complete.
func (in *Installer) publish(t Tool, src string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", t.Name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("publish %s: %w", t.Name, err)
	}
	if err := in.makeDir(); err != nil {
		return "", err
	}
	target := filepath.Join(in.opts.Dir, t.Name+"-"+hex.EncodeToString(h.Sum(nil))[:12])
	if executable(target) == nil {
		if err := os.Chmod(target, 0o755); err != nil {
			return "", fmt.Errorf("publish %s: %w", t.Name, err)
		}
		return target, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("publish %s: %w", t.Name, err)
	}
	tmp, err := os.CreateTemp(in.opts.Dir, ".publish-"+t.Name+"-")
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", t.Name, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, finds nothing
	_, err = io.Copy(tmp, f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", t.Name, err)
	}
	in.logger.Info("published configured tool for tenant uids", "tool", t.Name, "path", target)
	return target, nil
}
