package playground_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/workspace"
)

func TestWorkspaceShare(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := workspace.Owner{Tenant: "acme", User: "alice"}
	bob := workspace.Owner{Tenant: "other", User: "bob"}
	for _, o := range []workspace.Owner{alice, bob} {
		if _, err := e.db.EnsureUser(o.Tenant, o.User); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := e.ws.Create(context.Background(), alice, workspace.CreateOptions{Name: "demo", Files: map[string]string{
		"main.go": hello, "go.mod": "module demo\n", "bin.dat": "a\x00b", ".git/config": "[core]\n",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateShare(context.Background(), bob, ws.ID, playground.ShareRequest{}); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("share another's workspace: %v", err)
	}
	if _, _, err := e.svc.CreateShare(context.Background(), alice, ws.ID, playground.ShareRequest{Access: "edit"}); !errors.Is(err, playground.ErrInvalid) {
		t.Fatalf("access edit: %v", err)
	}
	sh, skipped, err := e.svc.CreateShare(context.Background(), alice, ws.ID, playground.ShareRequest{ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sh.ID) < 26 || len(skipped) != 2 || sh.Access != "view" {
		t.Fatalf("share %+v skipped %+v", sh, skipped)
	}
	// The snapshot is immutable: later edits do not show.
	if err := e.ws.WithFiles(alice, ws.ID, func(f *workspace.Files) error { return f.Remove("main.go", false) }); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GetShare(sh.ID)
	if err != nil || got.Files["main.go"] != hello || len(got.Files) != 2 {
		t.Fatalf("GetShare = %+v, %v", got, err)
	}
	fork, err := e.svc.ForkShare(context.Background(), bob, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ws.WithFiles(bob, fork.ID, func(f *workspace.Files) error {
		data, _, err := f.ReadFile("main.go")
		if err == nil && string(data) != hello {
			t.Errorf("forked main.go = %q", data)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteShare(bob, sh.ID); !errors.Is(err, playground.ErrNotFound) {
		t.Fatalf("revoke by another tenant: %v", err)
	}
	list, err := e.svc.ListShares(alice, ws.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListShares = %v, %v", list, err)
	}
	if err := e.svc.DeleteShare(alice, sh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetShare(sh.ID); !errors.Is(err, playground.ErrNotFound) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := e.svc.ForkShare(context.Background(), bob, sh.ID); !errors.Is(err, playground.ErrNotFound) {
		t.Fatalf("fork revoked: %v", err)
	}
}

func TestShareExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := workspace.Owner{Tenant: "acme", User: "alice"}
	if _, err := e.db.EnsureUser(alice.Tenant, alice.User); err != nil {
		t.Fatal(err)
	}
	ws, err := e.ws.Create(context.Background(), alice, workspace.CreateOptions{Name: "x", Template: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	// Shared an hour ago (the service's clock) for a minute: the store,
	// on the real clock, finds it expired.
	*e.clock = time.Now().Add(-time.Hour)
	sh, _, err := e.svc.CreateShare(context.Background(), alice, ws.ID, playground.ShareRequest{ExpiresIn: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetShare(sh.ID); !errors.Is(err, playground.ErrNotFound) {
		t.Fatalf("expired: %v", err)
	}
}
