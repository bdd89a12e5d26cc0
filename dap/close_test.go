package dap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/dap"
	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/sandbox"
)

// TestStartUnavailable: when dlv cannot be had, the client is told so
// (an output event, then terminated) and the connection closes with 1013
// (try again later); Serve's error wraps ErrUnavailable and the bridge's.
func TestStartUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, "", nil, func(_ *sandbox.Runner, _ *fakeWorkspaces, o *dap.Options) {
		o.Dlv = func(context.Context) (string, error) { return "", errors.New("dlv is being built") }
	})
	c := f.open()
	c.event("terminated")
	<-c.served
	if !errors.Is(c.err, dap.ErrUnavailable) || !errors.Is(c.err, bridge.ErrUnavailable) {
		t.Errorf("Serve = %v, want ErrUnavailable", c.err)
	}
	if code, reason := c.p.closeCode(); code != bridge.CloseTryAgainLater {
		t.Errorf("close %d %q, want 1013", code, reason)
	}
	if out := c.output("important"); !strings.Contains(out, "could not be started") {
		t.Errorf("output = %q, want the debugger's unavailability", out)
	}
	c.assertNoHostPath(f.secrets)
}

// TestStopClosesWithCause: a session stopped with its workspace closes
// its client with 1001 "workspace stopped", one stopped by Close with
// 1001 "server shutting down"; both are told terminated, their slots are
// freed, and Open fails with ErrClosed after Close.
func TestStopClosesWithCause(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, "", nil, func(_ *sandbox.Runner, _ *fakeWorkspaces, o *dap.Options) {
		// dlv is never ready: each session waits in its start until it
		// is stopped.
		o.Dlv = func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }
		o.StartTimeout = time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	for _, tc := range []struct {
		stop   func() error
		reason string
	}{
		{func() error { return f.m.Stop(ctx, f.workspaceID) }, "workspace stopped"},
		{func() error { return f.m.Close(ctx) }, "server shutting down"},
	} {
		// As many as the workspace may have: the second round opens as
		// many again only if the first round's slots were freed.
		cs := []*client{f.open(), f.open()}
		if err := tc.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		for _, c := range cs {
			select {
			case <-c.p.closed: // before the session was done, which the stop waited for
			default:
				t.Fatal("the stop returned before the client was closed")
			}
			<-c.served
			c.event("terminated")
			if code, reason := c.p.closeCode(); code != bridge.CloseGoingAway || reason != tc.reason {
				t.Errorf("close %d %q, want 1001 %q", code, reason, tc.reason)
			}
			if !errors.Is(c.err, bridge.ErrWorkspaceStopped) && !errors.Is(c.err, bridge.ErrShuttingDown) {
				t.Errorf("Serve = %v, want the stop's cause", c.err)
			}
		}
	}
	if _, err := f.m.Open("tenant1", f.workspaceID); !errors.Is(err, dap.ErrClosed) || !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("Open after Close: %v, want ErrClosed", err)
	}
}
