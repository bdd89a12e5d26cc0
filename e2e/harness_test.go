package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fixedToken is the local (admin) user's credential, passed with --token.
const fixedToken = "e2e-fixed-token-0123456789abcdef"

const (
	startTimeout = 20 * time.Second // until "ideserver listening on" appears
	stopTimeout  = 10 * time.Second // SIGTERM until exit
)

// serverConfig says how to start an ideserver process. Zero fields take
// defaults: a fresh t.TempDir() data directory and fixedToken.
type serverConfig struct {
	Data  string   // --data; "" means a new temporary directory
	Token string   // --token; "" means fixedToken
	Env   []string // extra KEY=VALUE environment entries
	Args  []string // extra flags
	// AllowErrorLogs tolerates Error-level log records (tests that provoke
	// them on purpose).
	AllowErrorLogs bool
}

// instance is one running ideserver process.
type instance struct {
	URL   string // http://HOST:PORT from the listening line
	Host  string // HOST:PORT
	Token string // the local admin user's token
	Data  string // the data directory

	t      *testing.T
	cmd    *exec.Cmd
	stdout *lineBuffer
	stderr *lineBuffer
	done   chan struct{} // closed when the process has exited and Wait returned
	http   *http.Client

	allowErrors bool
}

// startServer starts ideserver on 127.0.0.1:0 with a new data directory and
// waits until it listens. The process is killed when the test ends if it
// is still running.
func startServer(t *testing.T, extraArgs ...string) *instance {
	t.Helper()
	return startServerWith(t, serverConfig{Args: extraArgs})
}

var listeningRE = regexp.MustCompile(`(?m)^ideserver listening on (http://(\S+))\n`)

// startServerWith starts ideserver as cfg says and waits for its listening
// line (at most startTimeout).
func startServerWith(t *testing.T, cfg serverConfig) *instance {
	t.Helper()
	if cfg.Data == "" {
		cfg.Data = searchableTempDir(t)
	}
	if cfg.Token == "" {
		cfg.Token = fixedToken
	}
	args := append([]string{"--addr", "127.0.0.1:0", "--data", cfg.Data, "--token", cfg.Token}, cfg.Args...)
	in := &instance{
		Token:       cfg.Token,
		Data:        cfg.Data,
		t:           t,
		stdout:      newLineBuffer(listeningRE),
		stderr:      newLineBuffer(nil),
		done:        make(chan struct{}),
		http:        &http.Client{Timeout: 15 * time.Second},
		allowErrors: cfg.AllowErrorLogs,
	}
	in.cmd = exec.Command(binary, args...)
	in.cmd.Env = serverEnv(t, cfg.Env)
	in.cmd.Stdout = in.stdout
	in.cmd.Stderr = in.stderr
	in.cmd.WaitDelay = 2 * time.Second
	if err := in.cmd.Start(); err != nil {
		t.Fatalf("start ideserver: %v", err)
	}
	go func() {
		_ = in.cmd.Wait()
		close(in.done)
	}()
	t.Cleanup(in.cleanup)

	select {
	case m := <-in.stdout.match:
		in.URL, in.Host = m[1], m[2]
	case <-in.done:
		t.Fatalf("ideserver exited before listening (code %d); stderr:\n%s", in.cmd.ProcessState.ExitCode(), in.stderr)
	case <-time.After(startTimeout):
		t.Fatalf("ideserver did not print its listening line within %v; stdout:\n%s\nstderr:\n%s", startTimeout, in.stdout, in.stderr)
	}
	return in
}

// searchableTempDir returns a new directory whose parent other uids may
// pass (t.TempDir makes both 0700): run as root, the server isolates
// tenants under their own uids, which must reach their directories below
// the data directory, or it runs without isolation (refusing to when
// several tenants exist).
func searchableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serverEnv is the child's environment: PATH, a temporary HOME, a uid
// lock directory of its own (servers of parallel tests share the default
// uid range, which the lock would refuse: SBX-09), defaultEnv, and extra
// (later entries of a key win).
func serverEnv(t *testing.T, extra []string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "IDESERVER_ISOLATION_UID_LOCK_DIR=" + t.TempDir()}
	env = append(env, defaultEnv...)
	return append(env, extra...)
}

// Stop sends SIGTERM and waits for the process to exit (failing the test
// after stopTimeout). It returns the exit code.
func (in *instance) Stop() int {
	in.t.Helper()
	select {
	case <-in.done:
		return in.cmd.ProcessState.ExitCode()
	default:
	}
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		in.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-in.done:
		return in.cmd.ProcessState.ExitCode()
	case <-time.After(stopTimeout):
		in.Kill()
		in.t.Fatalf("ideserver did not exit within %v of SIGTERM; stderr:\n%s", stopTimeout, in.stderr)
		return -1
	}
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (in *instance) Kill() {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Kill()
	<-in.done
}

// Done is closed when the process has exited.
func (in *instance) Done() <-chan struct{} { return in.done }

// Stderr returns what the process wrote to stderr so far.
func (in *instance) Stderr() string { return in.stderr.String() }

// cleanup kills the process and fails the test on unexpected Error-level
// log records; stderr is logged when the test failed.
func (in *instance) cleanup() {
	in.Kill()
	if errs := errorLogs(in.stderr.String()); len(errs) > 0 && !in.allowErrors {
		in.t.Errorf("ideserver logged %d Error-level record(s):\n%s", len(errs), strings.Join(errs, "\n"))
	}
	if strings.Contains(in.stderr.String(), "WARNING: DATA RACE") {
		in.t.Error("the ideserver process reported a data race (see stderr)")
	}
	if in.t.Failed() {
		in.t.Logf("ideserver %s stdout:\n%s", in.URL, in.stdout)
		in.t.Logf("ideserver %s stderr:\n%s", in.URL, in.stderr)
	}
}

// errorLogs returns the JSON log lines of level ERROR (or above) in s.
func errorLogs(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		var rec struct {
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(strings.ToUpper(rec.Level), "ERROR") {
			out = append(out, line)
		}
	}
	return out
}

// lineBuffer collects a process's output; when re is set, the first match
// of re in the whole output is sent on match.
type lineBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan []string
	sent  bool
}

func newLineBuffer(re *regexp.Regexp) *lineBuffer {
	return &lineBuffer{re: re, match: make(chan []string, 1)}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.re != nil && !b.sent {
		if m := b.re.FindStringSubmatch(b.buf.String()); m != nil {
			b.sent = true
			b.match <- m
		}
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runResult is the outcome of a one-shot command.
type runResult struct {
	Stdout, Stderr string
	Code           int
	Elapsed        time.Duration
}

// runBinary runs ideserver with args to completion (at most timeout) with
// the test environment plus env.
func runBinary(t *testing.T, timeout time.Duration, env []string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = serverEnv(t, env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	res := runResult{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ideserver %v did not finish within %v; stderr:\n%s", args, timeout, res.Stderr)
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run ideserver %v: %v", args, err)
	}
	return res
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	last := ""
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

// request describes one HTTP request to an instance.
type request struct {
	Method string
	Path   string // starting with "/"
	Token  string // bearer credential; "" sends none
	Body   any    // nil, []byte, string, or a value sent as JSON
	Header map[string]string
	Cookie *http.Cookie
}

// response is an HTTP answer with its body read.
type response struct {
	*http.Response
	Body []byte
}

// do sends req and reads the whole answer.
func (in *instance) do(t *testing.T, req request) response {
	t.Helper()
	var body io.Reader
	isJSON := false
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		body, isJSON = bytes.NewReader(data), true
	}
	r, err := http.NewRequest(req.Method, in.URL+req.Path, body)
	if err != nil {
		t.Fatalf("new request %s %s: %v", req.Method, req.Path, err)
	}
	if isJSON {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		r.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		r.Header.Set(k, v)
	}
	if req.Cookie != nil {
		r.AddCookie(req.Cookie)
	}
	resp, err := in.http.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.Path, err)
	}
	// Error messages that reach a client never hold a host path.
	if resp.StatusCode >= 400 && bytes.Contains(data, []byte(in.Data)) {
		t.Errorf("%s %s: error body reveals the data directory: %s", req.Method, req.Path, data)
	}
	return response{resp, data}
}

// call sends req, fails the test unless the status is want, and decodes a
// JSON answer into out when out is not nil.
func (in *instance) call(t *testing.T, req request, want int, out any) response {
	t.Helper()
	resp := in.do(t, req)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", req.Method, req.Path, resp.StatusCode, want, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", req.Method, req.Path, resp.Body, err)
		}
	}
	return resp
}

// wantError fails the test unless resp has status and the error body
// {"error":{"code":code,"message":...}}.
func wantError(t *testing.T, what string, resp response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d; body: %s", what, resp.StatusCode, status, resp.Body)
		return
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Errorf("%s: error body %q is not JSON: %v", what, resp.Body, err)
		return
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Errorf("%s: error %+v, want code %q and a message", what, body.Error, code)
	}
}

// workspaceJSON is a workspace as the API shows it.
type workspaceJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// createWorkspace creates a workspace as token's user.
func (in *instance) createWorkspace(t *testing.T, token string, body map[string]any) workspaceJSON {
	t.Helper()
	var ws workspaceJSON
	in.call(t, request{Method: "POST", Path: "/api/v1/workspaces", Token: token, Body: body}, http.StatusCreated, &ws)
	if ws.ID == "" || ws.State != "active" {
		t.Fatalf("created workspace %+v: want an id and state active", ws)
	}
	return ws
}

// listWorkspaces lists token's user's workspaces.
func (in *instance) listWorkspaces(t *testing.T, token string) []workspaceJSON {
	t.Helper()
	var list struct {
		Workspaces []workspaceJSON `json:"workspaces"`
	}
	in.call(t, request{Method: "GET", Path: "/api/v1/workspaces", Token: token}, http.StatusOK, &list)
	return list.Workspaces
}

// tokenJSON is a token as the admin API shows it.
type tokenJSON struct {
	ID     string `json:"id"`
	Token  string `json:"token"`
	Tenant string `json:"tenant"`
	User   string `json:"user"`
}

// createToken issues a token for tenant/user with the admin credential.
func (in *instance) createToken(t *testing.T, tenant, user string) tokenJSON {
	t.Helper()
	var tok tokenJSON
	in.call(t, request{Method: "POST", Path: "/api/v1/admin/tenants/" + tenant + "/tokens", Token: in.Token,
		Body: map[string]string{"user": user}}, http.StatusCreated, &tok)
	if !strings.HasPrefix(tok.Token, "ide_") || tok.ID == "" || tok.Tenant != tenant || tok.User != user {
		t.Fatalf("created token %+v: want an ide_ secret for %s/%s", tok, tenant, user)
	}
	return tok
}

// putFile writes a file and returns its ETag.
func (in *instance) putFile(t *testing.T, token, ws, path, content string) string {
	t.Helper()
	var out struct {
		ETag string `json:"etag"`
	}
	resp := in.call(t, request{Method: "PUT", Path: filesPath(ws, path), Token: token, Body: []byte(content)}, http.StatusOK, &out)
	if out.ETag == "" || resp.Header.Get("ETag") != out.ETag {
		t.Fatalf("PUT %s: etag %q, header %q: want both, equal", path, out.ETag, resp.Header.Get("ETag"))
	}
	return out.ETag
}

// getFile reads a file and returns its content and ETag.
func (in *instance) getFile(t *testing.T, token, ws, path string) (string, string) {
	t.Helper()
	resp := in.call(t, request{Method: "GET", Path: filesPath(ws, path), Token: token}, http.StatusOK, nil)
	return string(resp.Body), resp.Header.Get("ETag")
}

func filesPath(ws, path string) string {
	return "/api/v1/workspaces/" + ws + "/files/" + path
}

// TestErrorLogs checks the harness's detector of Error-level records, on
// which every other test relies.
func TestErrorLogs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stderr string
		want   int
	}{
		{"none", `{"level":"INFO","msg":"serving"}` + "\n" + `{"level":"WARN","msg":"x"}`, 0},
		{"one", `{"level":"INFO","msg":"a"}` + "\n" + `{"time":"t","level":"ERROR","msg":"request failed"}`, 1},
		{"text lines ignored", "ideserver: level ERROR in plain text\n", 0},
		{"above error", `{"level":"ERROR+2","msg":"x"}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorLogs(tc.stderr); len(got) != tc.want {
				t.Errorf("errorLogs = %q, want %d records", got, tc.want)
			}
		})
	}
}
