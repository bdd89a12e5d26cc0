// Package modtest serves Go modules made in a test: a module proxy (the
// GOPROXY protocol over HTTP, on the loopback) that also serves a real
// checksum database of its modules under /sumdb/<name>/, as proxies may,
// and the list of a module's versions (so "latest" resolves),
// and can misbehave on request (a tampered zip, a module whose requests
// never answer, latency). For _test.go files only.
package modtest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	modzip "golang.org/x/mod/zip"
)

// SumDBName is the test checksum database's name.
const SumDBName = "sum.ideserver.test"

// Proxy is a module proxy of modules made in the test. It ends with the
// test.
type Proxy struct {
	URL   string // GOPROXY
	SumDB string // GOSUMDB: name and verifier key

	mu       sync.Mutex
	mods     map[module.Version]*Module
	tampered map[module.Version][]byte // zip served instead of the real one
	hang     map[string]bool           // module paths whose requests never answer
	latency  time.Duration             // added to each module request
	hanging  atomic.Int64              // requests hanging now
	requests atomic.Int64              // module requests served
}

// Module is one version the Proxy serves: its files and hashes.
type Module struct {
	Version        module.Version
	Mod, Info, Zip []byte
	H1, ModH1      string // the go.sum hashes of the zip and the go.mod
}

// GoSum returns m's two go.sum lines.
func (m *Module) GoSum() string {
	p, v := m.Version.Path, m.Version.Version
	return fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", p, v, m.H1, p, v, m.ModH1)
}

// New starts a Proxy with its checksum database.
func New(t testing.TB) *Proxy {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, SumDBName)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{SumDB: vkey, mods: map[module.Version]*Module{}, tampered: map[module.Version][]byte{}, hang: map[string]bool{}}
	db := sumdb.NewServer(sumdb.NewTestServer(skey, func(path, v string) ([]byte, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		m := p.mods[module.Version{Path: path, Version: v}]
		if m == nil {
			return nil, fs.ErrNotExist
		}
		return []byte(m.GoSum()), nil
	}))
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+SumDBName); ok {
			if rest == "/supported" {
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = rest
			db.ServeHTTP(w, r2)
			return
		}
		esc, file, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/@v/")
		path, err := module.UnescapePath(esc)
		if !ok || err != nil {
			http.NotFound(w, r)
			return
		}
		p.requests.Add(1)
		p.mu.Lock()
		hang, latency := p.hang[path], p.latency
		p.mu.Unlock()
		time.Sleep(latency)
		if hang {
			p.hanging.Add(1)
			defer p.hanging.Add(-1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		if file == "list" { // the versions of path, as the go command asks to resolve "latest"
			p.mu.Lock()
			for v := range p.mods {
				if v.Path == path {
					fmt.Fprintln(w, v.Version)
				}
			}
			p.mu.Unlock()
			return
		}
		ext := filepath.Ext(file)
		v, err := module.UnescapeVersion(strings.TrimSuffix(file, ext))
		mv := module.Version{Path: path, Version: v}
		p.mu.Lock()
		m, tampered := p.mods[mv], p.tampered[mv]
		p.mu.Unlock()
		if err != nil || m == nil {
			http.NotFound(w, r)
			return
		}
		switch {
		case ext == ".info":
			w.Write(m.Info)
		case ext == ".mod":
			w.Write(m.Mod)
		case ext == ".zip" && tampered != nil:
			w.Write(tampered)
		case ext == ".zip":
			w.Write(m.Zip)
		default:
			http.NotFound(w, r)
		}
	}))
	p.URL = srv.URL
	t.Cleanup(func() { close(release); srv.Close() })
	return p
}

// Add makes module path@v of files (go.mod among them) and serves it.
func (p *Proxy) Add(t testing.TB, path, v string, files map[string]string) *Module {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mv := module.Version{Path: path, Version: v}
	var zb bytes.Buffer
	if err := modzip.CreateFromDir(&zb, mv, dir); err != nil {
		t.Fatal(err)
	}
	m := &Module{Version: mv, Mod: []byte(files["go.mod"]), Zip: zb.Bytes(),
		Info: fmt.Appendf(nil, `{"Version":%q,"Time":"2024-01-02T03:04:05Z"}`, v)}
	zf := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(zf, m.Zip, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if m.H1, err = dirhash.HashZip(zf, dirhash.Hash1); err != nil {
		t.Fatal(err)
	}
	if m.ModH1, err = dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(m.Mod)), nil
	}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.mods[mv] = m
	p.mu.Unlock()
	return m
}

// Greet adds module path@v: a package greet whose Hello names it.
func (p *Proxy) Greet(t testing.TB, path, v string) *Module {
	return p.Add(t, path, v, map[string]string{
		"go.mod":   "module " + path + "\n\ngo 1.21\n",
		"greet.go": "package greet\n\nfunc Hello() string { return \"hello from " + path + "@" + v + "\" }\n",
	})
}

// Tamper serves zip as v's zip from now on (its hashes stay the real ones).
func (p *Proxy) Tamper(v module.Version, zip []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tampered[v] = zip
}

// Hang makes every request for module path wait until its client gives
// up (or the test ends).
func (p *Proxy) Hang(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang[path] = true
}

// SetLatency adds d to every module request (a distant proxy).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Hanging returns the number of requests hanging now.
func (p *Proxy) Hanging() int64 { return p.hanging.Load() }

// Requests returns the number of module requests served so far.
func (p *Proxy) Requests() int64 { return p.requests.Load() }
