package e2e_test

// Playground runs are throwaway (SBX-03, RUN-04, RUN-06): nothing a run
// writes survives it or reaches another run, and the build environment is
// fixed (no go.env file, no GOFLAGS but the server's, no cgo, no toolchain
// download), through the real /compile handler of a server isolating with
// bubblewrap under per-owner uids.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// plantMark names everything the planting run writes, so the host-side
// walk of the data directory and the second run can look for it.
const plantMark = "PLANTED-by-run-1"

// plantProgram writes, wherever it can, what would poison a later run: a
// go.env with GOCACHEPROG and GOFLAGS=-toolexec pointing at a script, a
// .bashrc, entries in every build cache it might find, and large files.
// It tries the HOME it is given, the per-owner HOME the playground had
// before (/home/user), the sandbox's /tmp, and the build caches runs had
// or have (/home/user/.cache/go-build, /tmp/gocache, /gocache). It prints
// what succeeded, one "wrote PATH" line each.
const plantProgram = `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const mark = "` + plantMark + `"

func write(path, data string, perm os.FileMode) {
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		fmt.Println("failed", path, err)
		return
	}
	fmt.Println("wrote", path)
}

// big writes n MiB in files of 8 MiB (below the playground's file size
// limit) named base-0, base-1, ...
func big(base string, n int) {
	chunk := strings.Repeat(mark+"\n", 8<<20/(len(mark)+1))
	for i := 0; i*8 < n; i++ {
		write(fmt.Sprintf("%s-%d", base, i), chunk, 0o644)
	}
}

func main() {
	homes := []string{os.Getenv("HOME"), "/home/user", "/tmp"}
	for _, h := range homes {
		if h == "" {
			continue
		}
		script := filepath.Join(h, mark+".sh")
		write(script, "#!/bin/sh\necho "+mark+" >&2\ncp -r /play "+h+"/"+mark+"-stolen\nexit 1\n", 0o755)
		write(filepath.Join(h, ".config/go/env"), "GOCACHEPROG="+script+"\nGOFLAGS=-toolexec="+script+"\nGOTOOLCHAIN=go1.99.0\n", 0o644)
		write(filepath.Join(h, ".bashrc"), "echo "+mark+"\n", 0o644)
		write(filepath.Join(h, mark+".txt"), mark, 0o644)
	}
	for _, c := range []string{"/home/user/.cache/go-build", "/tmp/gocache", "/tmp/gocacheprog", "/gocache"} {
		write(filepath.Join(c, "00", mark+"-a"), mark, 0o644)
		write(filepath.Join(c, "README"), mark, 0o644)
	}
	wd, _ := os.Getwd()
	write(filepath.Join(wd, mark+".txt"), mark, 0o644)
	big(filepath.Join(os.Getenv("HOME"), mark+"-big"), 48)
	big(filepath.Join(os.TempDir(), mark+"-bigtmp"), 48)
	fmt.Println("done")
}
`

// inspectProgram lists HOME, /tmp and the build caches it might see and
// reads every planted path; it prints "hello from run 2" last.
const inspectProgram = `package main

import (
	"fmt"
	"os"
	"path/filepath"
)

const mark = "` + plantMark + `"

func main() {
	for _, d := range []string{os.Getenv("HOME"), os.TempDir(), "/tmp", "/home/user", "/home/user/.cache/go-build", "/tmp/gocache", "/gocache", "/play"} {
		ents, err := os.ReadDir(d)
		if err != nil {
			fmt.Printf("list %s: %v\n", d, err)
			continue
		}
		for _, e := range ents {
			fmt.Printf("list %s: %s\n", d, e.Name())
		}
	}
	for _, h := range []string{os.Getenv("HOME"), "/home/user", "/tmp"} {
		for _, p := range []string{".config/go/env", ".bashrc", mark + ".txt", mark + ".sh", mark + "-big-0", mark + "-bigtmp-0", mark + "-stolen"} {
			path := filepath.Join(h, p)
			if data, err := os.ReadFile(path); err == nil {
				fmt.Printf("FOUND %s: %.40q\n", path, data)
			} else if _, serr := os.Stat(path); serr == nil {
				fmt.Printf("FOUND %s (unreadable)\n", path)
			}
		}
	}
	fmt.Println("hello from run 2")
}
`

// compileResult is the /compile answer.
type compileResult struct {
	Errors string
	Events []struct{ Message, Kind string }
	Status int
}

func (r compileResult) stdout() string {
	var b strings.Builder
	for _, e := range r.Events {
		b.WriteString(e.Message)
	}
	return b.String()
}

// compileFrom posts body to /compile from the local address src, so the
// server sees src as the client (per-client limits key on it).
func compileFrom(t *testing.T, s *instance, src, body string) compileResult {
	t.Helper()
	client := &http.Client{
		Timeout: 5 * time.Minute,
		Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)},
		}).DialContext},
	}
	defer client.CloseIdleConnections()
	data, _ := json.Marshal(map[string]string{"body": body})
	resp, err := client.Post(s.URL+"/compile", "application/json", strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("compile from %s: %v", src, err)
	}
	defer resp.Body.Close()
	var out compileResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("compile from %s: status %d, %v", src, resp.StatusCode, err)
	}
	return out
}

// diskUse counts the bytes of regular files and the entries below dir.
func diskUse(t *testing.T, dir string) (bytes int64, entries int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking
			}
			return err
		}
		entries++
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				bytes += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk data directory: %v", err)
	}
	return bytes, entries
}

// plantedOnHost returns the paths below dir whose name holds plantMark.
func plantedOnHost(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), plantMark) {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// waitLog waits until the server's stderr holds msg.
func waitLog(t *testing.T, s *instance, msg string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !strings.Contains(s.Stderr(), msg) {
		if time.Since(start) > within {
			t.Fatalf("no %q in the server log within %v", msg, within)
		}
		time.Sleep(200 * time.Millisecond) // polling a log, not an assertion
	}
	return time.Since(start)
}

// TestPlaygroundRunsThrowaway (SBX-03, RUN-04, RUN-06): run 1 plants a
// go.env with GOCACHEPROG and GOFLAGS=-toolexec, a .bashrc, build cache
// entries and about 100 MiB of files everywhere it can write; run 2, from
// another client address, builds and prints normally and sees none of it,
// and nothing of it is left on the host. Then the data directory's disk use
// is measured around many runs (programs that exit, fail, panic, time out
// and flood their output): it is back where it started, and the shared
// build cache is unchanged. A restart then finds that cache complete and
// prebuilds nothing, and the Go Playground's own requests (/version, a
// run on fake time) work.
func TestPlaygroundRunsThrowaway(t *testing.T) {
	requireIsolation(t)
	data := filepath.Join(searchableTempDir(t), "data")
	cfg := serverConfig{Data: data, Env: []string{
		"IDESERVER_ISOLATION_MODE=bwrap",
		"IDESERVER_ISOLATION_UID_FIRST=" + strconv.Itoa(attackUIDFirst()+32),
		"IDESERVER_ISOLATION_UID_COUNT=32",
		"IDESERVER_PLAYGROUND_PREBUILD=true",
		"IDESERVER_PLAYGROUND_CACHE_PACKAGES=fmt,os,path/filepath,strings",
		"IDESERVER_PLAYGROUND_BUILD_TIMEOUT=300s",
		"IDESERVER_PLAYGROUND_RUN_TIMEOUT=2s",
		"IDESERVER_PLAYGROUND_MAX_OUTPUT=64KiB",
	}}
	s := startServerWith(t, cfg)
	prebuild := waitLog(t, s, "playground build cache prepared", 15*time.Minute)
	t.Logf("shared build cache prepared %v after the server listened", prebuild.Round(time.Second))
	(&attackEnv{}).checkReady(t, s)

	start := time.Now()
	r1 := compileFrom(t, s, "127.0.0.1", plantProgram)
	t.Logf("run 1 (%v): errors %q, output:\n%s", time.Since(start).Round(time.Millisecond), r1.Errors, r1.stdout())
	if r1.Errors != "" || !strings.Contains(r1.stdout(), "done") {
		t.Fatalf("the planting run did not run to its end: errors %q", r1.Errors)
	}
	if !strings.Contains(r1.stdout(), "wrote /tmp/"+plantMark+".txt") {
		t.Errorf("run 1 could not write its own /tmp: the test plants nothing")
	}
	if found := plantedOnHost(t, data); len(found) > 0 {
		t.Errorf("after run 1, the host holds what it planted: %q", found)
	}

	start = time.Now()
	r2 := compileFrom(t, s, "127.0.0.2", inspectProgram)
	out := r2.stdout()
	t.Logf("run 2 (%v): errors %q, output:\n%s", time.Since(start).Round(time.Millisecond), r2.Errors, out)
	if r2.Errors != "" || r2.Status != 0 || !strings.HasSuffix(out, "hello from run 2\n") {
		t.Errorf("run 2 did not build and run normally: errors %q, status %d", r2.Errors, r2.Status)
	}
	if strings.Contains(out, "FOUND") || strings.Contains(out, plantMark) {
		t.Errorf("run 2 sees what run 1 planted")
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "list /tmp: ") || strings.HasPrefix(line, "list "+os.TempDir()+": ") {
			if !strings.Contains(line, "no such file") {
				t.Errorf("run 2's /tmp is not empty: %s", line)
			}
		}
	}

	// Disk use around many runs (RUN-04: the host's disk is not a run's).
	const runs = 100
	cacheBytes, cacheEntries := diskUse(t, filepath.Join(data, "cache"))
	baseBytes, baseEntries := diskUse(t, data)
	programs := []string{
		plantProgram,
		"package main\n\nfunc main() { panic(\"boom\") }\n",
		"package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n",
		"package main\n\nfunc main() { for {} }\n",
		"package main\n\nimport \"fmt\"\n\nfunc main() { for { fmt.Println(\"flood\") } }\n",
		"package main\n\nfunc main() { undefined() }\n",
	}
	start = time.Now()
	for i := range runs {
		src := "127.0.0.1"
		if i%2 == 1 {
			src = "127.0.0.2"
		}
		body := programs[i%len(programs)] + fmt.Sprintf("\n// run %d\n", i)
		compileFrom(t, s, src, body)
	}
	elapsed := time.Since(start)
	endBytes, endEntries := diskUse(t, data)
	t.Logf("%d runs in %v (%v each); data directory: %d bytes in %d entries before, %d bytes in %d entries after",
		runs, elapsed.Round(time.Millisecond), (elapsed / runs).Round(time.Millisecond), baseBytes, baseEntries, endBytes, endEntries)
	if endBytes != baseBytes || endEntries != baseEntries {
		t.Errorf("the data directory grew over %d runs: %d bytes in %d entries, then %d bytes in %d entries",
			runs, baseBytes, baseEntries, endBytes, endEntries)
	}
	if b, n := diskUse(t, filepath.Join(data, "cache")); b != cacheBytes || n != cacheEntries {
		t.Errorf("runs changed the shared build cache: %d bytes in %d entries, then %d in %d", cacheBytes, cacheEntries, b, n)
	}
	if ents, err := os.ReadDir(filepath.Join(data, "playground")); err != nil || len(ents) != 0 {
		t.Errorf("run directories left: %v %v", ents, err)
	}
	if found := plantedOnHost(t, data); len(found) > 0 {
		t.Errorf("the host holds what runs planted: %q", found)
	}

	// A restart finds the shared cache complete (its stamp) and builds
	// nothing again; runs go on from it.
	if code := s.Stop(); code != 0 {
		t.Fatalf("stop: exit code %d", code)
	}
	s = startServerWith(t, cfg)
	waitLog(t, s, "playground build cache up to date", 2*time.Minute)
	(&attackEnv{}).checkReady(t, s)
	if strings.Contains(s.Stderr(), "playground build cache prepared") {
		t.Error("the restarted server prebuilt the playground's cache again")
	}
	if r := compileFrom(t, s, "127.0.0.1", inspectProgram); r.Errors != "" || !strings.HasSuffix(r.stdout(), "hello from run 2\n") {
		t.Errorf("a run after the restart: errors %q, output %q", r.Errors, r.stdout())
	}
	if b, n := diskUse(t, filepath.Join(data, "cache")); b != cacheBytes || n != cacheEntries {
		t.Errorf("the restart changed the shared build cache: %d bytes in %d entries, then %d in %d", cacheBytes, cacheEntries, b, n)
	}
	goPlaygroundClient(t, s)
}

// goPlaygroundClient asks s what the Go Playground's front end asks: the
// version, then a run with vet (a form post, as its script sends it) of a
// program that sleeps, which runs on fake time: the events carry the
// delays, and the clock starts in 2009.
func goPlaygroundClient(t *testing.T, s *instance) {
	t.Helper()
	resp, err := http.Get(s.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Version, Release, Name string }
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(v.Version, v.Release) || !strings.HasPrefix(v.Version, "go1.") || v.Name == "" {
		t.Errorf("/version = %d %+v %v", resp.StatusCode, v, err)
	}
	body := "package main\n\nimport (\n\t\"fmt\"\n\t\"time\"\n)\n\nfunc main() {\n\tfmt.Println(time.Now().Year())\n\tfor i := range 3 {\n\t\ttime.Sleep(time.Hour)\n\t\tfmt.Println(\"hour\", i)\n\t}\n}\n"
	form := url.Values{"version": {"2"}, "body": {body}, "withVet": {"true"}}
	resp, err = http.PostForm(s.URL+"/compile", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Errors string
		Events []struct {
			Message, Kind string
			Delay         time.Duration
		}
		VetOK bool
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/compile: %d %v", resp.StatusCode, err)
	}
	var got []string
	for _, e := range out.Events {
		got = append(got, fmt.Sprintf("%s %q %v", e.Kind, e.Message, e.Delay))
	}
	want := []string{`stdout "2009\n" 0s`, `stdout "hour 0\n" 1h0m0s`, `stdout "hour 1\n" 1h0m0s`, `stdout "hour 2\n" 1h0m0s`}
	if out.Errors != "" || !out.VetOK || strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("/compile on fake time: errors %q, vet ok %v, events %q; want %q", out.Errors, out.VetOK, got, want)
	}
}
