package buildcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// A stamp records that a shared cache was filled completely for a key: a
// small file beside the cache (Stamp), which only the server writes and no
// sandbox sees. A prebuild whose key matches the stamp is not run again,
// so a restarted server is ready at once. The stamp only saves work: the
// go command checks every entry it reads, so a stale stamp costs users
// compile time, never a wrong build.

// Stamp is the host path of the stamp of the shared cache in dir.
func Stamp(dir string) string { return filepath.Clean(dir) + ".stamp" }

type stampFile struct {
	Key      string `json:"key"`
	Packages int    `json:"packages"`
}

// ReadStamp returns the number of packages the stamp at path records for
// key; ok is false when there is no stamp, or one for another key.
func ReadStamp(path, key string) (packages int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var s stampFile
	if err := json.NewDecoder(io.LimitReader(f, 4096)).Decode(&s); err != nil || s.Key != key || key == "" {
		return 0, false
	}
	return s.Packages, true
}

// WriteStamp records at path that the cache was filled for key, through a
// temporary file renamed into place.
func WriteStamp(path, key string, packages int) error {
	b, err := json.Marshal(stampFile{Key: key, Packages: packages})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stamp-")
	if err != nil {
		return fmt.Errorf("write the cache stamp: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write the cache stamp: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the cache stamp: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write the cache stamp: %w", err)
	}
	return nil
}

// RemoveStamp forgets the stamp at path (before a cache is filled anew).
func RemoveStamp(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the cache stamp: %w", err)
	}
	return nil
}

// Key digests parts (in order) into a stamp key.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Toolchain identifies the Go installation at goroot for stamp keys: its
// path, its VERSION file, and its go command and compiler (FileIdentity),
// which decide what the build cache holds.
func Toolchain(goroot string) (string, error) {
	parts := []string{filepath.Clean(goroot)}
	version, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("identify the Go toolchain: %w", err)
	}
	parts = append(parts, string(version))
	for _, p := range []string{
		filepath.Join(goroot, "bin", "go"),
		filepath.Join(goroot, "pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH, "compile"),
	} {
		id, err := FileIdentity(p)
		if err != nil {
			return "", fmt.Errorf("identify the Go toolchain: %w", err)
		}
		parts = append(parts, id)
	}
	return Key(parts...), nil
}

// FileIdentity names the file at path for stamp keys: its path, size and
// modification time, which change when the file is replaced (an upgraded
// toolchain or gopls), without reading it.
func FileIdentity(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d %d", path, fi.Size(), fi.ModTime().UnixNano()), nil
}

// keyEnv are the environment variables that change the go command's
// cache keys (or which compiler and flags it uses).
var keyEnv = []string{
	"GOFLAGS", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GO386", "GOARM", "GOEXPERIMENT",
	"GOROOT", "GOTOOLCHAIN", "CGO_ENABLED", "CC", "CXX", "CGO_CFLAGS", "CGO_CPPFLAGS",
	"CGO_CXXFLAGS", "CGO_LDFLAGS", "PATH",
}

// key is the stamp key of a prebuild of p into a cache filled by the
// toolchain identified by toolchain.
func (p *Prebuild) key(toolchain string) string {
	parts := []string{"prebuild v1", toolchain, p.GoVersion}
	pkgs := p.Packages
	if pkgs == nil {
		pkgs = DefaultPackages
	}
	parts = append(parts, "packages", strings.Join(pkgs, "\x00"))
	for _, c := range p.Commands {
		parts = append(parts, "command", strings.Join(c, "\x00"))
	}
	var env []string
	for _, kv := range p.Env {
		if k, _, _ := strings.Cut(kv, "="); slices.Contains(keyEnv, k) {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	return Key(append(parts, env...)...)
}
