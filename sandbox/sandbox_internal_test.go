package sandbox

import (
	"os"
	"strconv"
	"testing"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	tail := " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 987654 1 2 3" // fields 7-21, then starttime (22)
	tests := []struct {
		name string
		line string
		want procStat
		ok   bool
	}{
		{"plain", "42 (sleep) S 1 42 40" + tail, procStat{pid: 42, ppid: 1, pgrp: 42, sid: 40, state: 'S', start: 987654}, true},
		{"name with spaces and parens", "7 (a) b (c)) Z 3 5 6" + tail, procStat{pid: 7, ppid: 3, pgrp: 5, sid: 6, state: 'Z', start: 987654}, true},
		{"no name", "7 S 3 5 6" + tail, procStat{}, false},
		{"short", "7 (x) S 3 5", procStat{}, false},
		{"bad pid", "x (x) S 3 5 6" + tail, procStat{}, false},
		{"bad ppid", "7 (x) S y 5 6" + tail, procStat{}, false},
		{"empty", "", procStat{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if (err == nil) != tt.ok {
				t.Fatalf("parseStat error = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("parseStat = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatSelf(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.pid != os.Getpid() || s.ppid != os.Getppid() || s.start == 0 {
		t.Errorf("parseStat(self) = %+v; pid %d ppid %d", s, os.Getpid(), os.Getppid())
	}
}

func TestMarkerOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entry, instance, id string
		ok                        bool
	}{
		{"match", "IDESERVER_SANDBOX=inst/ab-1", "inst", "ab-1", true},
		{"instance with slash", "IDESERVER_SANDBOX=a/b/ab-1", "a/b", "ab-1", true},
		{"longer instance is other", "IDESERVER_SANDBOX=a/b/ab-1", "a", "", false},
		{"prefix instance is other", "IDESERVER_SANDBOX=instX/ab-1", "inst", "", false},
		{"empty id", "IDESERVER_SANDBOX=inst/", "inst", "", false},
		{"other variable", "XIDESERVER_SANDBOX=inst/1", "inst", "", false},
		{"value only", "inst/1", "inst", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := markerOf(tt.entry, tt.instance)
			if id != tt.id || ok != tt.ok {
				t.Errorf("markerOf(%q, %q) = %q, %v; want %q, %v", tt.entry, tt.instance, id, ok, tt.id, tt.ok)
			}
		})
	}
}

func TestHasEntry(t *testing.T) {
	t.Parallel()
	env := []byte("A=1\x00M=x/1\x00B=2\x00")
	tests := []struct {
		name, want string
		has        bool
	}{
		{"middle", "M=x/1", true},
		{"first", "A=1", true},
		{"last", "B=2", true},
		{"prefix only", "M=x/", false},
		{"longer", "M=x/10", false},
		{"suffix of entry", "=1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasEntry(env, tt.want); got != tt.has {
				t.Errorf("hasEntry(%q) = %v, want %v", tt.want, got, tt.has)
			}
		})
	}
	if hasEntry([]byte("A=1"), "A=1") != true {
		t.Error("entry without trailing NUL not found")
	}
	if hasEntry(nil, "A=1") {
		t.Error("found in nil environ")
	}
}

// TestScanFindsDescendants: a reparented descendant stays a member because
// its pid and start time were remembered.
func TestScanRemembersKnown(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(os.Getppid()) + "/stat")
	if err != nil {
		t.Skip(err)
	}
	parent, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	g := newProcGroup(-1, false, "NO_SUCH=marker", nil)
	if g.isMember(parent) {
		t.Fatal("unrelated process is a member")
	}
	g.known[parent.pid] = parent.start
	if !g.isMember(parent) {
		t.Error("known process is not a member")
	}
	g.known[parent.pid] = parent.start + 1
	if g.isMember(parent) {
		t.Error("a reused pid (other start time) is a member")
	}
}
