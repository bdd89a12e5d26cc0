package ratelimit

import (
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// TestKeyedBuckets: each key has its own bucket of burst tokens, refilled
// at the limit; a refused Allow takes nothing; Delay says how long until
// the next token and takes nothing.
func TestKeyedBuckets(t *testing.T) {
	k := New(rate.Every(2*time.Second), 3, 10, Untracked)
	for i := range 3 {
		if !k.Allow("a", t0) {
			t.Fatalf("token %d refused", i)
		}
	}
	if k.Allow("a", t0) {
		t.Fatal("fourth token at once allowed")
	}
	if d := k.Delay("a", t0); d != 2*time.Second {
		t.Fatalf("Delay = %v, want 2s", d)
	}
	if d := k.Delay("a", t0.Add(1500*time.Millisecond)); d != 500*time.Millisecond {
		t.Fatalf("Delay 1.5s later = %v, want 500ms", d)
	}
	if d := k.Delay("a", t0); d != 2*time.Second {
		t.Fatalf("Delay took a token: %v", d)
	}
	if d := k.Delay("b", t0); d != 0 || !k.Allow("b", t0) {
		t.Fatalf("other key: Delay %v, or refused", d)
	}
	if !k.Allow("a", t0.Add(2*time.Second)) || k.Allow("a", t0.Add(2*time.Second)) {
		t.Fatal("after 2s, want exactly one token")
	}
}

// TestKeyedSweep: full buckets are dropped (they are the same as none),
// others kept.
func TestKeyedSweep(t *testing.T) {
	k := New(rate.Every(time.Second), 2, 10, Untracked)
	k.Allow("refills", t0)
	k.Allow("stays", t0.Add(time.Minute))
	k.Allow("stays", t0.Add(time.Minute))
	k.Allow("new", t0.Add(time.Minute)) // a minute on: sweeps
	if _, ok := k.limiters["refills"]; ok {
		t.Error("a full bucket was kept")
	}
	if _, ok := k.limiters["stays"]; !ok {
		t.Error("an empty bucket was dropped")
	}
	if d := k.Delay("stays", t0.Add(time.Minute)); d != time.Second {
		t.Errorf("Delay after the sweep = %v, want 1s", d)
	}
}

// fill takes every token of n keys named prefix0.. at now.
func fill(k *Keyed, prefix string, n int, now time.Time) {
	for i := range n {
		for k.Allow(prefix+strconv.Itoa(i), now) {
		}
	}
}

// TestKeyedUntracked: beyond the bound, new keys are neither limited nor
// stored; once buckets refill, new keys are tracked again.
func TestKeyedUntracked(t *testing.T) {
	k := New(rate.Every(time.Second), 1, 3, Untracked)
	fill(k, "k", 3, t0)
	for range 5 {
		if !k.Allow("late", t0) {
			t.Fatal("an untracked key was limited")
		}
	}
	if len(k.limiters) != 3 {
		t.Fatalf("%d keys tracked, want 3", len(k.limiters))
	}
	if d := k.Delay("late", t0); d != 0 {
		t.Fatalf("Delay of an untracked key = %v", d)
	}
	if d := k.Delay("k0", t0); d != time.Second {
		t.Fatalf("tracked key lost its state: Delay %v", d)
	}
	// Two seconds on, the tracked buckets are full: the sweep at the
	// bound frees them and "late" is tracked.
	now := t0.Add(2 * time.Second)
	if !k.Allow("late", now) || k.Allow("late", now) {
		t.Fatal("after the sweep, want late limited to one token")
	}
}

// TestKeyedShared: beyond the bound, new keys share one bucket.
func TestKeyedShared(t *testing.T) {
	k := New(rate.Every(time.Second), 2, 3, Shared)
	fill(k, "k", 3, t0)
	if !k.Allow("x", t0) || !k.Allow("y", t0) {
		t.Fatal("the shared bucket refused its burst")
	}
	if k.Allow("z", t0) || k.Allow("x", t0) {
		t.Fatal("the shared bucket allowed past its burst")
	}
	if d := k.Delay("w", t0); d != time.Second {
		t.Fatalf("Delay of an overflow key = %v, want the shared bucket's 1s", d)
	}
	if len(k.limiters) != 3 {
		t.Fatalf("%d keys tracked, want 3", len(k.limiters))
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1"},
		{-time.Second, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{30 * time.Second, "30"},
	} {
		if got := RetryAfter(tt.d); got != tt.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
