package main

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	var l latencies
	if got := l.stats(); got != (stats{}) {
		t.Errorf("no samples: %+v", got)
	}
	for i := 100; i >= 1; i-- {
		l.add(time.Duration(i) * time.Millisecond)
	}
	got := l.stats()
	want := stats{Count: 100, P50: 50, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	l = latencies{}
	l.add(1500 * time.Nanosecond)
	if got := l.stats(); got.P50 != 0.002 || got.P99 != 0.002 {
		t.Errorf("one sample of 1.5µs: %+v", got)
	}
}

func TestFailures(t *testing.T) {
	var f failures
	if got := f.list(); got == nil || len(got) != 0 {
		t.Errorf("no errors: %#v, want an empty list", got)
	}
	for range 3 {
		f.add("terminals", "open terminal", errors.New("429 too_many_terminals: x"))
	}
	f.add("runs", "POST /compile", errors.New("boom"))
	want := []string{"terminals: open terminal: 429 too_many_terminals: x (×3)", "runs: POST /compile: boom"}
	if got := f.list(); !slices.Equal(got, want) {
		t.Errorf("list = %q, want %q", got, want)
	}
	if f.total() != 4 || f.of("terminals") != 3 || f.of("lsp") != 0 {
		t.Errorf("total %d, terminals %d, lsp %d", f.total(), f.of("terminals"), f.of("lsp"))
	}
	for i := range 2 * maxErrors {
		f.add("lsp", "hover", errors.New(strings.Repeat("x", i+1)))
	}
	got := f.list()
	if len(got) != maxErrors+1 || !strings.HasPrefix(got[maxErrors], "… and ") {
		t.Errorf("%d distinct errors listed as %d, last %q", 2*maxErrors+2, len(got), got[len(got)-1])
	}
}

func TestParentOf(t *testing.T) {
	for _, tc := range []struct {
		stat string
		ppid int
		ok   bool
	}{
		{"42 (sh) S 7 42 42 0 -1", 7, true},
		{"42 (a) b) (c) R 9 1 1", 9, true}, // a command name may hold ") "
		{"42 (sh", 0, false},
		{"42 (sh) S", 0, false},
	} {
		ppid, ok := parentOf([]byte(tc.stat))
		if ppid != tc.ppid || ok != tc.ok {
			t.Errorf("parentOf(%q) = %d, %v; want %d, %v", tc.stat, ppid, ok, tc.ppid, tc.ok)
		}
	}
}

// TestSampleSelf reads this test process's own resources.
func TestSampleSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	r, err := sampleResources("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if r.RSSMiB <= 0 || r.FDs < 3 || r.Processes < 1 {
		t.Errorf("resources of this process: %+v", r)
	}
}

func TestParseFlags(t *testing.T) {
	env := func(k string) string {
		if k == "IDELOAD_TOKEN" {
			return "from-env"
		}
		return ""
	}
	c, err := parseFlags([]string{"--url", "http://127.0.0.1:1/", "--lsp", "0"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://127.0.0.1:1" || c.Token != "from-env" || c.LSP != 0 || c.Workspaces != 1000 || c.Terminals != 200 || c.Runs != 20 || c.Duration != 30*time.Second {
		t.Errorf("config %+v", c)
	}
	for _, args := range [][]string{
		{},
		{"--url", "127.0.0.1:1"},
		{"--url", "http://x", "--terminals", "-1"},
		{"--url", "http://x", "--per-user", "0"},
		{"--url", "http://x", "extra"},
	} {
		if _, err := parseFlags(args, env, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := parseFlags([]string{"--url", "http://x"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("no token accepted")
	}
}

func TestUsersAndPool(t *testing.T) {
	for _, tc := range []struct {
		cfg         config
		users, pool int
	}{
		{config{Workspaces: 1000, PerUser: 50, SocketsPerUser: 50, Terminals: 200, Shells: 20, TermsPerWS: 5, LSP: 50}, 20, 1000},
		{config{Workspaces: 0, PerUser: 50, SocketsPerUser: 50, Terminals: 200, Shells: 20, TermsPerWS: 5, LSP: 50}, 5, 50},
		{config{Workspaces: 6, PerUser: 3, SocketsPerUser: 50, Terminals: 2, Shells: 1, TermsPerWS: 5, LSP: 1}, 2, 6},
		{config{PerUser: 50, SocketsPerUser: 50, TermsPerWS: 5, Runs: 20}, 0, 0},
	} {
		l := &loader{cfg: tc.cfg}
		if u, p := l.userCount(), l.poolSize(l.userCount()); u != tc.users || p != tc.pool {
			t.Errorf("%+v: %d users, %d workspaces; want %d, %d", tc.cfg, u, p, tc.users, tc.pool)
		}
	}
}
