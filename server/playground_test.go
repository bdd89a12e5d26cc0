package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/server"
)

// fakePlay records the client keys the playground handlers pass and
// answers with the configured errors. Methods it does not override panic
// (the embedded interface is nil).
type fakePlay struct {
	server.PlaygroundService

	mu       sync.Mutex
	clients  []string
	fmtErr   error
	shareErr error
}

func (f *fakePlay) ServesAPI() bool { return true }

func (f *fakePlay) record(client string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients = append(f.clients, client)
}

func (f *fakePlay) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clients[len(f.clients)-1]
}

func (f *fakePlay) Fmt(ctx context.Context, client, body string, fixImports bool) (playground.FmtResponse, error) {
	f.record(client)
	if f.fmtErr != nil {
		return playground.FmtResponse{}, f.fmtErr
	}
	return playground.FmtResponse{Body: body}, nil
}

func (f *fakePlay) Vet(ctx context.Context, client, body string) (*playground.Response, error) {
	f.record(client)
	return nil, f.fmtErr
}

func (f *fakePlay) Share(client string, body []byte) (string, error) {
	f.record(client)
	if f.shareErr != nil {
		return "", f.shareErr
	}
	return playground.SnippetID(body), nil
}

func (f *fakePlay) ShareRetryAfter() time.Duration { return 1500 * time.Millisecond }

// TestPlaygroundLimits: /fmt and /vet pass the client key to the limiter
// and answer ErrBusy with 429; anonymous /share is limited per address
// (429 with Retry-After), signed-in callers are not limited.
func TestPlaygroundLimits(t *testing.T) {
	t.Parallel()
	fake := &fakePlay{}
	h := newHarness(t, func(o *server.Options) { o.Playground = fake })
	form := withHeader("Content-Type", "application/x-www-form-urlencoded")

	r := h.do("POST", "/fmt", []byte("body=package+main&imports=true"), form)
	wantStatus(t, "fmt", r, 200)
	if c := fake.last(); !strings.HasPrefix(c, "ip:") {
		t.Errorf("fmt client key %q, want the address", c)
	}
	fake.fmtErr = playground.ErrBusy
	for _, p := range []string{"/fmt", "/vet"} {
		wantError(t, p+" busy", h.do("POST", p, []byte("body=package+main"), form), 429, "too_many_requests")
	}

	r = h.do("POST", "/share", []byte("package main"), withHeader("Content-Type", "text/plain"))
	wantStatus(t, "share", r, 200)
	if c := fake.last(); !strings.HasPrefix(c, "ip:") {
		t.Errorf("anonymous share client key %q, want the address", c)
	}
	r = h.do("POST", "/share", []byte("package main"), withHeader("Content-Type", "text/plain"), bearer(h.tokA))
	wantStatus(t, "signed-in share", r, 200)
	if c := fake.last(); c != "" {
		t.Errorf("signed-in share client key %q, want none", c)
	}
	fake.shareErr = playground.ErrRateLimited
	r = h.do("POST", "/share", []byte("package main"), withHeader("Content-Type", "text/plain"))
	wantError(t, "share limited", r, 429, "too_many_requests")
	if got := r.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
}

// versionPlay answers Version with v, or err.
type versionPlay struct {
	fakePlay
	v   playground.Version
	err error
}

func (f *versionPlay) Version() (playground.Version, error) { return f.v, f.err }

// TestPlaygroundVersion: GET /version is public, open to any origin, and
// answers the Go Playground's fields; a version the playground cannot
// read is 503 go_version_unknown.
func TestPlaygroundVersion(t *testing.T) {
	t.Parallel()
	fake := &versionPlay{v: playground.Version{Version: "go1.26.8", Release: "go1.26", Name: "Go 1.26"}}
	h := newHarness(t, func(o *server.Options) { o.Playground = fake })
	r := h.do("GET", "/version", nil)
	wantStatus(t, "version", r, 200)
	if got := strings.TrimSpace(string(r.Body)); got != `{"Version":"go1.26.8","Release":"go1.26","Name":"Go 1.26"}` {
		t.Errorf("body %s", got)
	}
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want *", got)
	}
	fake.err = errors.New("no VERSION")
	h.logs.allowErrors("request failed")
	wantError(t, "unknown version", h.do("GET", "/version", nil), 503, "go_version_unknown")
}
