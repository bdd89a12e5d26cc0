package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// loadStats is a latency summary of cmd/ideload.
type loadStats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
}

// loadSummary is the part of cmd/ideload's summary the smoke test reads.
type loadSummary struct {
	Server string   `json:"server"`
	Tenant string   `json:"tenant"`
	Users  []string `json:"users"`
	Phases struct {
		Workspaces struct {
			Created, Suspended, Resumed int
			Create, Suspend, Resume     loadStats
			ProcessesBefore             *int `json:"processes_before"`
			ProcessesIdle               *int `json:"processes_idle"`
		} `json:"workspaces"`
		Terminals struct {
			Opened       int `json:"opened"`
			ShellsOpened int `json:"shells_opened"`
			Lines        int `json:"lines"`
			Deleted      int `json:"deleted"`
			Create       loadStats
			Attach       loadStats
			Echo         loadStats
		} `json:"terminals"`
		LSP struct {
			Opened     int       `json:"opened"`
			Initialize loadStats `json:"initialize"`
			FirstHover loadStats `json:"first_hover"`
			Hover      loadStats `json:"hover"`
		} `json:"lsp"`
		Runs struct {
			OK      int       `json:"ok"`
			Latency loadStats `json:"latency"`
		} `json:"runs"`
	} `json:"phases"`
	Resources map[string]struct {
		RSSMiB    float64 `json:"rss_mib"`
		FDs       int     `json:"fds"`
		Processes int     `json:"processes"`
	} `json:"resources"`
	Cleanup struct {
		WorkspacesDeleted int `json:"workspaces_deleted"`
		UsersDeleted      int `json:"users_deleted"`
	} `json:"cleanup"`
	Failed bool     `json:"failed"`
	Errors []string `json:"errors"`
}

// TestLoadSmoke runs cmd/ideload with tiny sizes against a real server:
// every phase runs, nothing fails, every latency is measured, the
// server's resources are sampled, and nothing of the load is left.
func TestLoadSmoke(t *testing.T) {
	t.Parallel()
	ideload := filepath.Join(t.TempDir(), "ideload")
	args := []string{"build", "-o", ideload}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/ideload")...)
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ideload: %v\n%s", err, out)
	}

	s := startServer(t)
	// One playground run: the prebuild is off, so it builds fmt and the
	// runtime from nothing (tens of seconds on a busy machine).
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ideload, "--url", s.URL, "--tenant", "load",
		"--workspaces", "6", "--per-user", "3", "--terminals", "2", "--shells", "1",
		"--lsp", "1", "--runs", "1", "--duration", "3s", "--timeout", "2m",
		"--pid", strconv.Itoa(s.cmd.Process.Pid))
	cmd.Env = []string{"IDELOAD_TOKEN=" + s.Token}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("ideload ran %v; stderr:\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	t.Logf("summary:\n%s", stdout.String())
	if ctx.Err() != nil {
		t.Fatal("ideload did not finish")
	}
	var sum loadSummary
	if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
		t.Fatalf("summary is not JSON (%v; exit: %v)", jerr, err)
	}
	if err != nil || sum.Failed || len(sum.Errors) > 0 {
		t.Errorf("ideload failed (%v): %q", err, sum.Errors)
	}

	ws := sum.Phases.Workspaces
	if ws.Created != 6 || ws.Suspended != 6 || ws.Resumed != 6 {
		t.Errorf("workspaces created %d, suspended %d, resumed %d; want 6 each", ws.Created, ws.Suspended, ws.Resumed)
	}
	if ws.ProcessesIdle == nil {
		t.Error("no process count while the workspaces were suspended")
	}
	term := sum.Phases.Terminals
	if term.Opened != 2 || term.ShellsOpened != 1 || term.Deleted != 3 || term.Lines == 0 {
		t.Errorf("terminals: opened %d, shells %d, deleted %d, lines %d; want 2, 1, 3 and some lines",
			term.Opened, term.ShellsOpened, term.Deleted, term.Lines)
	}
	if sum.Phases.LSP.Opened != 1 || sum.Phases.Runs.OK != 1 {
		t.Errorf("LSP sessions opened %d, runs ok %d; want 1 each", sum.Phases.LSP.Opened, sum.Phases.Runs.OK)
	}
	for name, st := range map[string]loadStats{
		"workspace create": ws.Create, "workspace suspend": ws.Suspend, "workspace resume": ws.Resume,
		"terminal create": term.Create, "terminal attach": term.Attach, "keystroke echo": term.Echo,
		"LSP initialize": sum.Phases.LSP.Initialize, "first hover": sum.Phases.LSP.FirstHover, "hover": sum.Phases.LSP.Hover,
		"run": sum.Phases.Runs.Latency,
	} {
		if st.Count == 0 || st.P50 <= 0 || st.P99 < st.P50 {
			t.Errorf("%s latency %+v: want samples, p50 > 0 and p99 ≥ p50", name, st)
		}
	}
	for _, phase := range []string{"start", "idle", "workspaces", "terminals", "lsp", "runs", "cleanup"} {
		r, ok := sum.Resources[phase]
		if !ok || r.RSSMiB <= 0 || r.FDs == 0 || r.Processes == 0 {
			t.Errorf("resources after %s: %+v (sampled: %v)", phase, r, ok)
		}
	}
	if ws.ProcessesIdle != nil && ws.ProcessesBefore != nil {
		t.Logf("server processes: %d before, %d with every workspace suspended", *ws.ProcessesBefore, *ws.ProcessesIdle)
	}

	// Nothing is left: the users' workspaces and tokens are gone.
	if sum.Tenant != "load" || len(sum.Users) != 2 || sum.Cleanup.WorkspacesDeleted != 6 || sum.Cleanup.UsersDeleted != 2 {
		t.Errorf("tenant %q, users %q, cleanup %+v: want 2 users of load, 6 workspaces deleted", sum.Tenant, sum.Users, sum.Cleanup)
	}
	var tokens struct {
		Tokens []tokenJSON `json:"tokens"`
	}
	s.call(t, request{Method: "GET", Path: "/api/v1/admin/tenants/load/tokens", Token: s.Token}, 200, &tokens)
	if len(tokens.Tokens) != 0 {
		t.Errorf("tokens left in tenant load: %+v", tokens.Tokens)
	}
	for _, u := range sum.Users {
		if left := s.listWorkspaces(t, s.createToken(t, "load", u).Token); len(left) != 0 {
			t.Errorf("user %s still has workspaces %+v", u, left)
		}
	}
}
