package store_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ideserver/ideserver/store"
)

// The test binary doubles as the subprocess for the lock and crash tests:
// with helperEnv set, TestMain runs a helper instead of the tests.
const (
	helperEnv     = "IDESERVER_STORE_TEST_HELPER" // "hold-lock" or "crash-writer"
	helperPathEnv = "IDESERVER_STORE_TEST_DB"
	helperIterEnv = "IDESERVER_STORE_TEST_ITER"
	waitLong      = 20 * time.Second // generous bound for subprocess events under -race
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		goleak.VerifyTestMain(m)
	case "hold-lock":
		os.Exit(helperHoldLock(os.Getenv(helperPathEnv)))
	case "crash-writer":
		os.Exit(helperCrashWriter(os.Getenv(helperPathEnv), os.Getenv(helperIterEnv)))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperHoldLock opens the DB, prints "ready", and holds it until stdin closes.
func helperHoldLock(path string) int {
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashWS names the workspace created by write i of iteration iter.
func crashWS(iter, i int) string { return fmt.Sprintf("ws-%d-%d", iter, i) }

// helperCrashWriter writes forever, printing "committed <n>" after write n
// returns nil. Writes cycle: n%3==0 creates crashWS(iter, n); n%3==1 renames
// it to "u<n>"; n%3==2 stores state "s<n>" for it.
func helperCrashWriter(path, iterStr string) int {
	iter, err := strconv.Atoi(iterStr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := db.EnsureUser("crash", "writer"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	for n := 0; ; n++ {
		id := crashWS(iter, n-n%3)
		switch n % 3 {
		case 0:
			err = db.CreateWorkspace(store.Workspace{ID: id, TenantID: "crash", UserID: "writer", Name: "c", CreatedAt: time.Now()})
		case 1:
			_, err = db.UpdateWorkspace(id, func(w *store.Workspace) error { w.Name = fmt.Sprint("u", n); return nil })
		case 2:
			err = db.PutWorkspaceState(id, []byte(fmt.Sprint("s", n)))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// One write(2) of a short line: the parent never sees half of it.
		fmt.Printf("committed %d\n", n)
	}
}

// helper starts the test binary as the named helper with stdout piped.
func helper(t *testing.T, name, path string, iter int) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+name, helperPathEnv+"="+path, fmt.Sprint(helperIterEnv, "=", iter))
	cmd.Stderr = &testWriter{t: t, prefix: name + ": "}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout), stdin
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitLine reads lines until one equals want, failing after waitLong.
func waitLine(t *testing.T, sc *bufio.Scanner, want string) {
	t.Helper()
	got := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			if sc.Text() == want {
				got <- true
				return
			}
		}
		got <- false
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Fatalf("helper exited before printing %q", want)
		}
	case <-time.After(waitLong):
		t.Fatalf("helper did not print %q within %v", want, waitLong)
	}
}

// TestOpenLocked is DB-05: a second Open of a file that is in use fails
// after about Timeout with ErrLocked and the operator sentence, instead of
// hanging. bbolt locks with flock(2), which is per open file description, so
// a second Open in the same process conflicts too; both are checked.
func TestOpenLocked(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name string
		hold func(t *testing.T, path string) (release func())
	}{
		{"other process", func(t *testing.T, path string) func() {
			cmd, sc, stdin := helper(t, "hold-lock", path, 0)
			waitLine(t, sc, "ready")
			return func() {
				_ = stdin.Close()
				if err := cmd.Wait(); err != nil {
					t.Errorf("hold-lock helper: %v", err)
				}
			}
		}},
		{"same process", func(t *testing.T, path string) func() {
			db, err := store.Open(store.Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := db.Close(); err != nil {
					t.Error(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			release := tt.hold(t, path)
			start := time.Now()
			db, err := store.Open(store.Options{Path: path, Timeout: timeout})
			elapsed := time.Since(start)
			if err == nil {
				_ = db.Close()
				release()
				t.Fatal("second Open succeeded while the file is held")
			}
			if !errors.Is(err, store.ErrLocked) {
				t.Errorf("err = %v, want ErrLocked", err)
			}
			if want := fmt.Sprintf("is another ideserver using --data %s?", dir); !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to contain %q", err, want)
			}
			if elapsed < timeout/2 || elapsed > timeout+5*time.Second {
				t.Errorf("Open took %v with Timeout %v", elapsed, timeout)
			}
			release()
			// Released: the next Open succeeds.
			openPath(t, path)
		})
	}
}

// TestCrashDurability is DB-01: a writer subprocess is SIGKILLed at random
// moments; after each kill the file opens, passes Check, and holds every
// write the writer reported committed. IDESERVER_CRASH_ITERATIONS raises the
// iteration count (default 30).
func TestCrashDurability(t *testing.T) {
	t.Parallel()
	iterations := 30
	if s := os.Getenv("IDESERVER_CRASH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("IDESERVER_CRASH_ITERATIONS=%q: %v", s, err)
		}
		iterations = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "state.db")
	committed := make([]int, iterations) // last committed write per iteration, -1 for none
	total := 0
	for iter := range iterations {
		committed[iter] = runCrashWriter(t, path, iter, time.Duration(rng.IntN(120))*time.Millisecond)
		total += committed[iter] + 1
		verifyCrashDB(t, path, committed[:iter+1])
		if t.Failed() {
			t.Fatalf("iteration %d failed (seed %d)", iter, seed)
		}
	}
	t.Logf("%d kills, %d committed writes verified", iterations, total)
}

// runCrashWriter starts the writer, kills it delay after it is ready, and
// returns the last n it reported committed.
func runCrashWriter(t *testing.T, path string, iter int, delay time.Duration) int {
	cmd, sc, _ := helper(t, "crash-writer", path, iter)
	last := make(chan int, 1)
	ready := make(chan struct{})
	go func() {
		n := -1
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				close(ready)
				continue
			}
			if s, ok := strings.CutPrefix(line, "committed "); ok {
				if v, err := strconv.Atoi(s); err == nil {
					n = v
				}
			}
		}
		last <- n
	}()
	select {
	case <-ready:
	case <-time.After(waitLong):
		t.Errorf("crash writer %d not ready within %v", iter, waitLong)
	}
	time.Sleep(delay) // the random kill point, not an assertion
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n := <-last // EOF: the writer is dead; read everything it printed before Wait closes the pipe
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("crash writer %d ended with %v before the kill", iter, err)
	}
	return n
}

// verifyCrashDB reopens the file and checks every committed write.
func verifyCrashDB(t *testing.T, path string, committed []int) {
	t.Helper()
	db, err := store.Open(store.Options{Path: path})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := db.Check(); err != nil {
		t.Fatalf("Check after kill: %v", err)
	}
	for iter, last := range committed {
		for base := 0; base <= last; base += 3 {
			id := crashWS(iter, base)
			w, err := db.GetWorkspace(id)
			if err != nil {
				t.Errorf("committed create of %s lost: %v", id, err)
				continue
			}
			if base+1 <= last && w.Name != fmt.Sprint("u", base+1) {
				t.Errorf("committed rename of %s lost: name %q", id, w.Name)
			}
			if base+2 <= last {
				st, err := db.GetWorkspaceState(id)
				if err != nil || string(st) != fmt.Sprint("s", base+2) {
					t.Errorf("committed state of %s lost: %q, %v", id, st, err)
				}
			}
		}
	}
}
