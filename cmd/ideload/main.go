// Command ideload drives a running ideserver through its public HTTP and
// WebSocket API (docs/api.md) and prints one JSON summary on stdout: how
// long workspace, terminal, LSP and playground operations took (p50/p99
// in milliseconds), what failed, and, given the server's pid, its memory,
// file descriptors and process count at the end of each phase.
//
// Usage:
//
//	ideload --url http://127.0.0.1:8080 --token TOKEN [--pid PID] [flags]
//
// The token is an administrator's (the one given to ideserver with
// --token, or IDELOAD_TOKEN in the environment): ideload creates its users
// in one tenant (--tenant, default "ideload") through the admin API, each
// named ideload-RUN-N for a random RUN, and removes them, with their
// workspaces and terminals, at the end unless --keep is given.
//
// Phases, in this order, each skipped with a count of 0:
//
//   - workspaces (--workspaces, 1000): create that many workspaces from
//     the hello template, spread over users (--per-user, 50, under the
//     server's limits.max_workspaces_per_user), suspend them all, sample
//     the server (resources "idle": an idle workspace should cost no
//     process), then resume them all.
//   - terminals (--terminals, 200): open that many terminals running a
//     command that prints a line per second, attached, and --shells (20)
//     interactive shells in which a character is typed every --interval
//     (100ms) for --duration (30s), timing its echo.
//   - lsp (--lsp, 50): open that many LSP WebSockets, initialize, open
//     main.go, then ask for hovers every --interval for --duration.
//   - runs (--runs, 20): that many concurrent POST /compile of a hello
//     world program (anonymous, as the Go Playground's clients send it),
//     each allowed --run-timeout (5m).
//
// The server's defaults refuse part of the default load: 50 terminals per
// tenant (terminal.max_per_tenant) and, for anonymous playground runs, one
// run per address plus four queued (playground.max_per_client). Refusals
// are reported as failures; raise those limits in the server's
// configuration to measure the full load. Other phases need workspaces
// too: ideload creates what they need beyond --workspaces (at most
// --terminals-per-workspace terminals each, and at most --sockets-per-user
// WebSockets per user, under limits.max_websockets_per_user).
//
// Resources are read from /proc, so --pid works only on the server's
// machine: VmRSS, the number of open descriptors, and the processes of the
// server's tree (itself included). Without --pid they are not reported.
//
// The exit status is 0 when nothing failed, 1 when something did (the
// summary says what), 2 for a bad command line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	URL    string
	Token  string
	Tenant string
	PID    int
	Keep   bool

	Workspaces     int
	PerUser        int
	SocketsPerUser int
	Terminals      int
	Shells         int
	TermsPerWS     int
	LSP            int
	Runs           int

	Duration    time.Duration
	Interval    time.Duration
	Timeout     time.Duration
	RunTimeout  time.Duration
	Concurrency int
}

// run parses args, runs the load and writes the summary; it returns the
// exit status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ideload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := newLoader(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "ideload:", err)
		return 2
	}
	sum := l.run(ctx)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintln(stderr, "ideload:", err)
		return 1
	}
	if sum.Failed {
		return 1
	}
	return 0
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("ideload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "", "the server's base URL, http://HOST:PORT (required)")
	fs.StringVar(&c.Token, "token", getenv("IDELOAD_TOKEN"), "an administrator's API token (default $IDELOAD_TOKEN)")
	fs.StringVar(&c.Tenant, "tenant", "ideload", "the tenant ideload's users are created in")
	fs.IntVar(&c.PID, "pid", 0, "the server's process id, to sample its resources from /proc (0: none)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the users, workspaces and terminals created")
	fs.IntVar(&c.Workspaces, "workspaces", 1000, "workspaces to create, suspend and resume (0 skips the phase)")
	fs.IntVar(&c.PerUser, "per-user", 50, "workspaces per user (the server allows limits.max_workspaces_per_user)")
	fs.IntVar(&c.SocketsPerUser, "sockets-per-user", 50, "WebSockets one user holds at most at once (the server allows limits.max_websockets_per_user)")
	fs.IntVar(&c.Terminals, "terminals", 200, "terminals printing a line per second (0 skips the phase, shells included)")
	fs.IntVar(&c.Shells, "shells", 20, "interactive shells timing keystroke echo, in the terminals phase")
	fs.IntVar(&c.TermsPerWS, "terminals-per-workspace", 5, "terminals per workspace at most (the server allows terminal.max_per_workspace)")
	fs.IntVar(&c.LSP, "lsp", 50, "LSP WebSockets asking for hovers (0 skips the phase)")
	fs.IntVar(&c.Runs, "runs", 20, "concurrent playground runs (0 skips the phase)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long the terminals and lsp phases type and hover")
	fs.DurationVar(&c.Interval, "interval", 100*time.Millisecond, "pause between one client's keystrokes or hovers")
	fs.DurationVar(&c.Timeout, "timeout", 60*time.Second, "bound of one API request or awaited answer")
	fs.DurationVar(&c.RunTimeout, "run-timeout", 5*time.Minute, "bound of one playground run")
	fs.IntVar(&c.Concurrency, "concurrency", 16, "API requests in flight at once while creating, suspending, resuming and deleting")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case c.URL == "":
		return c, errors.New("--url is required")
	case !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://"):
		return c, fmt.Errorf("--url %q: want http:// or https://", c.URL)
	case c.Token == "":
		return c, errors.New("--token (or IDELOAD_TOKEN) is required")
	case c.Workspaces < 0 || c.Terminals < 0 || c.Shells < 0 || c.LSP < 0 || c.Runs < 0:
		return c, errors.New("counts must not be negative")
	case c.PerUser < 1 || c.SocketsPerUser < 1 || c.TermsPerWS < 1 || c.Concurrency < 1:
		return c, errors.New("--per-user, --sockets-per-user, --terminals-per-workspace and --concurrency must be at least 1")
	case c.Duration <= 0 || c.Interval < 0 || c.Timeout <= 0 || c.RunTimeout <= 0:
		return c, errors.New("--duration, --timeout and --run-timeout must be positive, --interval not negative")
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c, nil
}
