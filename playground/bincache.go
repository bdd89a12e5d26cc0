package playground

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Defaults of the binary cache (Options.BinaryCache, MaxBinaryCacheBytes).
const (
	DefaultBinaryCache         = 32
	DefaultMaxBinaryCacheBytes = 64 << 20
)

// binCache keeps the executables of recent successful builds in memory,
// so that a body built before (the Go Playground's hello world, an
// example everyone runs) runs without building again. An entry is keyed
// by everything the build is made of (binKey): the files as written to the
// run directory, the go command's arguments and environment, the binds and
// the toolchain's files; the go command builds the same executable from
// the same key, so serving the entry is the same as building it. Only
// executables are kept, never a program's output, which may read the
// clock or randomness. It lives in the server's memory, not on disk:
// nothing of it is left behind by a crash, and no sandboxed process sees
// it (a run gets a copy in its own run directory).
type binCache struct {
	max      int   // entries
	maxBytes int64 // bytes of all entries

	mu    sync.Mutex
	lru   *list.List
	byKey map[string]*list.Element // of *binEntry
	bytes int64
	gone  bool // closed: nothing is added

	hits atomic.Int64 // executables served (for tests)
}

// binEntry is one cached executable.
type binEntry struct {
	key string
	exe []byte // never changed once cached
	// vetClean reports that go vet of the same files found nothing; a
	// request with vet is served only then (findings are not kept).
	vetClean bool
}

// newBinCache returns a cache of at most max entries and maxBytes bytes
// (nil when max < 0: off).
func newBinCache(max int, maxBytes int64) *binCache {
	if max < 0 {
		return nil
	}
	if max == 0 {
		max = DefaultBinaryCache
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBinaryCacheBytes
	}
	return &binCache{max: max, maxBytes: maxBytes, lru: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the executable of key when it is cached (and vet found
// nothing in it when withVet), or nil. The caller must not change it.
func (c *binCache) get(key string, withVet bool) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*binEntry)
	if withVet && !e.vetClean {
		return nil
	}
	c.lru.MoveToFront(el)
	return e.exe
}

// put reads the executable exe, a file name in the run directory root
// (opened through it, so no link leads elsewhere), into the cache under
// key, unless key is there. It is called once the build is done and
// before the program runs, so what it keeps is what the go command wrote.
// Failing to keep it is not an error of the run: put just returns.
func (c *binCache) put(key string, root *os.Root, exe string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if el, ok := c.byKey[key]; ok || c.gone {
		if ok {
			c.lru.MoveToFront(el)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f, err := root.Open(exe)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > c.maxBytes {
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, c.maxBytes+1))
	if err != nil || int64(len(b)) != fi.Size() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok || c.gone { // a twin build came first
		return
	}
	c.byKey[key] = c.lru.PushFront(&binEntry{key: key, exe: b})
	c.bytes += int64(len(b))
	for c.lru.Len() > c.max || c.bytes > c.maxBytes {
		c.drop(c.lru.Back())
	}
}

// vetted records that go vet found nothing in the files of key.
func (c *binCache) vetted(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*binEntry).vetClean = true
	}
}

// drop removes the entry el. c.mu is held.
func (c *binCache) drop(el *list.Element) {
	e := el.Value.(*binEntry)
	c.lru.Remove(el)
	delete(c.byKey, e.key)
	c.bytes -= int64(len(e.exe))
}

// close empties the cache; nothing is added afterwards.
func (c *binCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gone = true
	c.lru.Init()
	clear(c.byKey)
	c.bytes = 0
}

// binKey returns the binary cache's key of a build of fs (the files as
// they are written to the run directory) with the go command's args, or
// ok false when the build must not be cached: a file or directory whose
// name starts with a dot (a version control directory could make the go
// command stamp what it finds there). The key covers every input of the
// build: the files, the arguments, the environment (goEnv, without the
// run's own scratch directory), the binds and the isolation, and the
// toolchain (toolchainID).
func (s *Service) binKey(fs *FileSet, args []string) (key string, ok bool) {
	tc, ok := s.toolchainID()
	if !ok {
		return "", false
	}
	h := sha256.New()
	field := func(b []byte) {
		_ = binary.Write(h, binary.LittleEndian, uint64(len(b)))
		h.Write(b)
	}
	field([]byte("playground binary cache v1"))
	field([]byte(tc))
	field([]byte(fmt.Sprint(s.isolated())))
	for _, a := range args {
		field([]byte("arg " + a))
	}
	for _, e := range s.goEnv(sandboxTmp, "") {
		field([]byte("env " + e))
	}
	for _, b := range s.binds() {
		field([]byte(fmt.Sprintf("bind %q %q %v", b.Host, b.Target, b.ReadOnly)))
	}
	names := slices.Clone(fs.Names())
	slices.Sort(names)
	for _, name := range names {
		for seg := range strings.SplitSeq(name, "/") {
			if strings.HasPrefix(seg, ".") {
				return "", false
			}
		}
		field([]byte("file " + name))
		field(fs.Data(name))
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// toolchainID names the toolchain of Options.GOROOT as it is now: its
// VERSION file and the identity (device, inode, size, modification and
// change times)
// of the go command and the tools a build and vet run, so that a Go
// installed over the old one changes every key. ok is false when one of
// them cannot be read.
func (s *Service) toolchainID() (string, bool) {
	root := s.opts.GOROOT
	tools := filepath.Join(root, "pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH)
	h := sha256.New()
	h.Write([]byte(root + "\x00"))
	v, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", false
	}
	h.Write(v)
	for _, f := range []string{
		filepath.Join(root, "bin", "go"),
		filepath.Join(tools, "compile"), filepath.Join(tools, "link"),
		filepath.Join(tools, "asm"), filepath.Join(tools, "vet"),
	} {
		if !statID(h, f) {
			return "", false
		}
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// statID writes the identity of file f to h.
func statID(h hash.Hash, f string) bool {
	fi, err := os.Stat(f)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	fmt.Fprintf(h, "%s %d %d %d %d.%d %d.%d\n", f, st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	return true
}
