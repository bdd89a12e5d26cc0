package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/internal/isotest"
)

// client speaks the go command's side of the protocol to serve.
type client struct {
	t    *testing.T
	in   io.WriteCloser
	dec  *json.Decoder
	done chan error
	id   int64
}

func startServe(t *testing.T, ro, rw string) *client {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &client{t: t, in: inW, dec: json.NewDecoder(bufio.NewReader(outR)), done: make(chan error, 1)}
	go func() {
		err := serve(inR, outW, ro, rw)
		_ = outW.CloseWithError(io.EOF)
		c.done <- err
	}()
	var hello response
	if err := c.dec.Decode(&hello); err != nil || strings.Join(hello.KnownCommands, ",") != "get,put,close" {
		t.Fatalf("capabilities: %+v %v", hello, err)
	}
	return c
}

// send writes a request as cmd/go/internal/cache.ProgCache does: the JSON
// object, a newline, an empty line, then a body as a base64 JSON string.
func (c *client) send(req map[string]any, body []byte) response {
	c.t.Helper()
	c.id++
	req["ID"] = c.id
	if body != nil {
		req["BodySize"] = len(body)
	}
	data, _ := json.Marshal(req)
	msg := string(data) + "\n\n"
	if len(body) > 0 {
		msg += `"` + base64.StdEncoding.EncodeToString(body) + "\"\n"
	}
	if _, err := io.WriteString(c.in, msg); err != nil {
		c.t.Fatal(err)
	}
	var res response
	if err := c.dec.Decode(&res); err != nil {
		c.t.Fatalf("response: %v", err)
	}
	if res.ID != c.id {
		c.t.Fatalf("response id %d, want %d", res.ID, c.id)
	}
	return res
}

func id(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// TestProtocol: put then get through the writable directory, misses, a
// body that does not match its output id, and close.
func TestProtocol(t *testing.T) {
	rw := filepath.Join(t.TempDir(), "rw")
	c := startServe(t, "", rw)
	body := []byte(strings.Repeat("compiled object ", 5000))
	out := sha256.Sum256(body)
	put := c.send(map[string]any{"Command": "put", "ActionID": id("a1"), "OutputID": out[:]}, body)
	if put.Err != "" || put.DiskPath == "" {
		t.Fatalf("put: %+v", put)
	}
	got := c.send(map[string]any{"Command": "get", "ActionID": id("a1")}, nil)
	if got.Miss || got.Size != int64(len(body)) || string(got.OutputID) != string(out[:]) {
		t.Fatalf("get: %+v", got)
	}
	if data, err := os.ReadFile(got.DiskPath); err != nil || string(data) != string(body) {
		t.Fatalf("disk path holds %d bytes, %v", len(data), err)
	}
	empty := sha256.Sum256(nil)
	if r := c.send(map[string]any{"Command": "put", "ActionID": id("a2"), "OutputID": empty[:]}, []byte{}); r.Err != "" {
		t.Fatalf("empty put: %+v", r)
	}
	if r := c.send(map[string]any{"Command": "get", "ActionID": id("a2")}, nil); r.Miss || r.Size != 0 {
		t.Fatalf("empty get: %+v", r)
	}
	if r := c.send(map[string]any{"Command": "get", "ActionID": id("nope")}, nil); !r.Miss {
		t.Fatalf("unknown id: %+v", r)
	}
	if r := c.send(map[string]any{"Command": "put", "ActionID": id("a3"), "OutputID": id("other")}, []byte("xyz")); r.Err == "" {
		t.Fatalf("a body not matching its output id was stored: %+v", r)
	}
	// The stream stays in step after a refused put.
	if r := c.send(map[string]any{"Command": "get", "ActionID": id("a1")}, nil); r.Miss {
		t.Fatalf("get after a refused put: %+v", r)
	}
	c.send(map[string]any{"Command": "close"}, nil)
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyDirectory: entries of the go command's layout in the
// read-only directory are served from there, malformed or incomplete ones
// are misses, and new puts go to the writable directory only.
func TestReadOnlyDirectory(t *testing.T) {
	ro, rw := t.TempDir(), filepath.Join(t.TempDir(), "rw")
	body := []byte("archive")
	out := sha256.Sum256(body)
	write := func(name, data string) {
		p := filepath.Join(ro, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(action []byte, size int) string {
		return fmt.Sprintf("v1 %x %x %20d %20d\n", action, out, size, time.Now().UnixNano())
	}
	good, short, bad := id("good"), id("short"), id("bad")
	write(fmt.Sprintf("%02x/%x-a", good[0], good), entry(good, len(body)))
	write(fmt.Sprintf("%02x/%x-a", short[0], short), entry(short, len(body)+1)) // output file shorter than recorded
	write(fmt.Sprintf("%02x/%x-a", bad[0], bad), "v1 garbage\n")
	write(fmt.Sprintf("%02x/%x-d", out[0], out), string(body))
	before := isotest.Snapshot(t, ro, true)

	c := startServe(t, ro, rw)
	got := c.send(map[string]any{"Command": "get", "ActionID": good}, nil)
	if got.Miss || !strings.HasPrefix(got.DiskPath, ro+"/") || got.Size != int64(len(body)) {
		t.Fatalf("get from the read-only directory: %+v", got)
	}
	for _, a := range [][]byte{short, bad} {
		if r := c.send(map[string]any{"Command": "get", "ActionID": a}, nil); !r.Miss {
			t.Errorf("a bad entry was served: %+v", r)
		}
	}
	nb := []byte("new")
	nout := sha256.Sum256(nb)
	put := c.send(map[string]any{"Command": "put", "ActionID": id("new"), "OutputID": nout[:]}, nb)
	if put.Err != "" || !strings.HasPrefix(put.DiskPath, rw+"/") {
		t.Fatalf("put: %+v", put)
	}
	c.send(map[string]any{"Command": "close"}, nil)
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
	if d := isotest.Changed(before, isotest.Snapshot(t, ro, true)); d != "" {
		t.Error("the read-only directory changed: " + d)
	}
}

// TestGoCommand: the go command itself fills a cache (GOCACHE) with fmt;
// a build of a program importing fmt, with this program serving that
// cache read-only, compiles none of fmt again (a handful of entries are
// put, where a build from nothing puts hundreds) and leaves it unchanged.
func TestGoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fmt from nothing")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	env := append(os.Environ(), "GOENV=off", "GOFLAGS=-mod=mod -trimpath", "CGO_ENABLED=0", "GOTOOLCHAIN=local",
		"GOPROXY=off", "GOWORK=off", "HOME="+dir, "GOPATH="+filepath.Join(dir, "gopath"))
	run := func(wd string, extra []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = wd, append(env[:len(env):len(env)], extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	prog := filepath.Join(dir, "gocacheprog")
	build := exec.Command(goBin, "build", "-o", prog, ".") // with the host's own cache: not what is measured
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the cache program: %v\n%s", err, out)
	}

	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"go.mod":  "module play\n\ngo 1.24\n",
		"prog.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared := filepath.Join(dir, "shared")
	run(src, []string{"GOCACHE=" + shared}, "build", "fmt")
	before := isotest.Snapshot(t, shared, true)

	puts := func(ro, name string) int {
		rw := filepath.Join(dir, name)
		run(src, []string{"GOCACHE=" + filepath.Join(dir, name+"-gocache"), "GOCACHEPROG=" + prog + " -ro " + ro + " -rw " + rw}, "build", "-o", filepath.Join(dir, name+".exe"), ".")
		if out, err := exec.Command(filepath.Join(dir, name+".exe")).Output(); err != nil || string(out) != "hello\n" {
			t.Fatalf("program built with %s: %q %v", name, out, err)
		}
		n := 0
		_ = filepath.WalkDir(rw, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, "-a") {
				n++
			}
			return nil
		})
		return n
	}
	warm := puts(shared, "warm")
	cold := puts(filepath.Join(dir, "empty"), "cold")
	t.Logf("entries put: %d with the shared cache, %d from nothing", warm, cold)
	if warm > 10 || cold < 50 {
		t.Errorf("entries put: %d with the shared cache (want at most 10), %d from nothing (want at least 50)", warm, cold)
	}
	if d := isotest.Changed(before, isotest.Snapshot(t, shared, true)); d != "" {
		t.Error("the shared cache changed: " + d)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		ro, rw string
		ok     bool
	}{
		{[]string{"-ro", "/a", "-rw", "/b"}, "/a", "/b", true},
		{[]string{"-rw", "/b"}, "", "/b", true},
		{[]string{"-ro", "/a"}, "", "", false},
		{[]string{"-rw", "b"}, "", "", false},
		{[]string{"-ro", "a", "-rw", "/b"}, "", "", false},
		{[]string{"-rw", "/b", "extra"}, "", "", false},
		{[]string{"-x", "/b"}, "", "", false},
	} {
		ro, rw, ok := parseArgs(tt.args)
		if ok != tt.ok || (ok && (ro != tt.ro || rw != tt.rw)) {
			t.Errorf("parseArgs(%q) = %q, %q, %v", tt.args, ro, rw, ok)
		}
	}
}

// TestTrim: close trims the writable directory as the go command trims
// its own cache: entries unused for five days go, others stay, a hit marks
// an entry used, and once trimmed it waits a day before trimming again.
func TestTrim(t *testing.T) {
	rw := filepath.Join(t.TempDir(), "rw")
	c := startServe(t, "", rw)
	body := []byte("object")
	out := sha256.Sum256(body)
	put := func(action string) {
		if r := c.send(map[string]any{"Command": "put", "ActionID": id(action), "OutputID": out[:]}, body); r.Err != "" {
			t.Fatalf("put %s: %+v", action, r)
		}
	}
	put("old")
	put("kept")
	now := time.Now()
	sixDays := now.Add(-6 * 24 * time.Hour)
	age := func(name string, when time.Time) {
		if err := os.Chtimes(name, when, when); err != nil {
			t.Fatal(err)
		}
	}
	oldA, keptA := fileName(rw, id("old"), "a"), fileName(rw, id("kept"), "a")
	outFile := fileName(rw, out[:], "d")
	age(oldA, sixDays)
	age(keptA, sixDays)
	age(outFile, sixDays)
	// A hit on "kept" marks its entry and its output used.
	if r := c.send(map[string]any{"Command": "get", "ActionID": id("kept")}, nil); r.Miss {
		t.Fatalf("get: %+v", r)
	}
	c.send(map[string]any{"Command": "close"}, nil)
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oldA); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an entry unused for six days is still there: %v", err)
	}
	for _, f := range []string{keptA, outFile} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a used file was trimmed: %v", err)
		}
	}
	stamp, err := os.ReadFile(filepath.Join(rw, "trim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.ParseInt(string(stamp), 10, 64); err != nil || time.Since(time.Unix(n, 0)) > time.Minute {
		t.Errorf("trim.txt = %q", stamp)
	}
	// Trimmed just now: the next close leaves even an old entry alone.
	age(keptA, sixDays)
	(&cache{rw: rw}).trim(time.Now())
	if _, err := os.Stat(keptA); err != nil {
		t.Errorf("trimmed again within a day: %v", err)
	}
	// A day later it trims again.
	(&cache{rw: rw}).trim(time.Now().Add(25 * time.Hour))
	if _, err := os.Stat(keptA); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("not trimmed a day later: %v", err)
	}
}
