package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ideserver/ideserver/store"
)

func ws(id, tenant, user string, created time.Time) store.Workspace {
	return store.Workspace{ID: id, TenantID: tenant, UserID: user, Name: "name-" + id, State: store.StateActive, CreatedAt: created, UpdatedAt: created}
}

func workspaceIDs(wss []store.Workspace) []string {
	var ids []string
	for _, w := range wss {
		ids = append(ids, w.ID)
	}
	return ids
}

func testWorkspaces(t *testing.T, db *store.DB) {
	now := t0.Add(48 * time.Hour)
	store.SetClock(db, func() time.Time { return now })
	mustUser(t, db, "acme", "alice")
	mustUser(t, db, "acme", "bob")
	// Out of order; w3 and w2 share a timestamp so ID breaks the tie; pre-1970 sorts first.
	for _, w := range []store.Workspace{
		ws("w4", "acme", "alice", t0.Add(3*time.Second)),
		ws("w3", "acme", "alice", t0.Add(time.Second)),
		ws("w2", "acme", "alice", t0.Add(time.Second)),
		ws("w1", "acme", "alice", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)),
		ws("w5", "acme", "bob", t0),
	} {
		if err := db.CreateWorkspace(w); err != nil {
			t.Fatalf("CreateWorkspace(%s): %v", w.ID, err)
		}
	}
	got, err := db.GetWorkspace("w4")
	if err != nil {
		t.Fatal(err)
	}
	want := ws("w4", "acme", "alice", t0.Add(3*time.Second))
	if got.ID != want.ID || got.TenantID != want.TenantID || got.UserID != want.UserID || got.Name != want.Name ||
		got.State != want.State || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) ||
		got.CreatedAt.Location() != time.UTC {
		t.Errorf("GetWorkspace = %+v, want %+v", got, want)
	}
	list, err := db.ListWorkspaces("acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ids := workspaceIDs(list); !slices.Equal(ids, []string{"w1", "w2", "w3", "w4"}) {
		t.Errorf("ListWorkspaces(alice) = %q", ids)
	}
	if list, _ := db.ListWorkspaces("acme", "bob"); !slices.Equal(workspaceIDs(list), []string{"w5"}) {
		t.Errorf("ListWorkspaces(bob) = %q", workspaceIDs(list))
	}
	if list, _ := db.ListWorkspaces("acme", "nobody"); len(list) != 0 {
		t.Errorf("ListWorkspaces(unknown user) = %q", workspaceIDs(list))
	}
	all, err := db.ListAllWorkspaces()
	if err != nil || !slices.Equal(workspaceIDs(all), []string{"w1", "w5", "w2", "w3", "w4"}) {
		t.Errorf("ListAllWorkspaces = %q, %v", workspaceIDs(all), err)
	}

	for _, tc := range []struct {
		name string
		w    store.Workspace
		want error
	}{
		{"duplicate", ws("w1", "acme", "bob", t0), store.ErrExists},
		{"missing user", ws("w9", "acme", "carol", t0), store.ErrNotFound},
		{"missing tenant", ws("w9", "gamma", "alice", t0), store.ErrNotFound},
		{"bad state", store.Workspace{ID: "w9", TenantID: "acme", UserID: "alice", State: "running"}, store.ErrInvalid},
		{"empty id", ws("", "acme", "alice", t0), store.ErrInvalid},
	} {
		wantErr(t, "CreateWorkspace "+tc.name, db.CreateWorkspace(tc.w), tc.want)
	}
	// Defaults: empty State → active, zero UpdatedAt → CreatedAt.
	if err := db.CreateWorkspace(store.Workspace{ID: "w6", TenantID: "acme", UserID: "bob", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if w6, _ := db.GetWorkspace("w6"); w6.State != store.StateActive || !w6.UpdatedAt.Equal(t0) {
		t.Errorf("CreateWorkspace defaults: %+v", w6)
	}

	up, err := db.UpdateWorkspace("w2", func(w *store.Workspace) error {
		w.Name, w.State = "renamed", store.StateSuspended
		return nil
	})
	if err != nil || up.Name != "renamed" || up.State != store.StateSuspended || !up.UpdatedAt.Equal(now) {
		t.Errorf("UpdateWorkspace = %+v, %v", up, err)
	}
	if got, _ := db.GetWorkspace("w2"); got.Name != "renamed" || got.State != store.StateSuspended || !got.UpdatedAt.Equal(now) {
		t.Errorf("GetWorkspace after update = %+v", got)
	}
	errFn := errors.New("fn refused")
	for _, tc := range []struct {
		name string
		id   string
		fn   func(*store.Workspace) error
		want error
	}{
		{"fn error aborts", "w2", func(w *store.Workspace) error { w.Name = "lost"; return errFn }, errFn},
		{"id change", "w2", func(w *store.Workspace) error { w.ID = "w7"; return nil }, store.ErrInvalid},
		{"tenant change", "w2", func(w *store.Workspace) error { w.TenantID = "beta"; w.Name = "lost"; return nil }, store.ErrInvalid},
		{"user change", "w2", func(w *store.Workspace) error { w.UserID = "bob"; return nil }, store.ErrInvalid},
		{"bad state", "w2", func(w *store.Workspace) error { w.State = "gone"; return nil }, store.ErrInvalid},
		{"missing", "w9", func(*store.Workspace) error { return nil }, store.ErrNotFound},
	} {
		_, err := db.UpdateWorkspace(tc.id, tc.fn)
		wantErr(t, "UpdateWorkspace "+tc.name, err, tc.want)
	}
	if got, _ := db.GetWorkspace("w2"); got.Name != "renamed" || got.UserID != "alice" {
		t.Errorf("failed updates changed the record: %+v", got)
	}
	// Changing CreatedAt moves the workspace in its owner's order.
	if _, err := db.UpdateWorkspace("w1", func(w *store.Workspace) error { w.CreatedAt = t0.Add(time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.ListWorkspaces("acme", "alice"); !slices.Equal(workspaceIDs(list), []string{"w2", "w3", "w4", "w1"}) {
		t.Errorf("ListWorkspaces after moving CreatedAt = %q", workspaceIDs(list))
	}

	if err := db.DeleteWorkspace("w3"); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetWorkspace("w3")
	wantErr(t, "GetWorkspace deleted", err, store.ErrNotFound)
	wantErr(t, "DeleteWorkspace twice", db.DeleteWorkspace("w3"), store.ErrNotFound)
	if list, _ := db.ListWorkspaces("acme", "alice"); !slices.Equal(workspaceIDs(list), []string{"w2", "w4", "w1"}) {
		t.Errorf("ListWorkspaces after delete = %q", workspaceIDs(list))
	}
	if all, _ := db.ListAllWorkspaces(); slices.Contains(workspaceIDs(all), "w3") {
		t.Errorf("ListAllWorkspaces still has w3")
	}
}

func testWorkspaceState(t *testing.T, db *store.DB) {
	mustUser(t, db, "acme", "alice")
	if err := db.CreateWorkspace(ws("w1", "acme", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetWorkspaceState("w1"); err != nil || got != nil {
		t.Errorf("GetWorkspaceState(none) = %q, %v; want nil, nil", got, err)
	}
	_, err := db.GetWorkspaceState("w9")
	wantErr(t, "GetWorkspaceState missing", err, store.ErrNotFound)
	wantErr(t, "PutWorkspaceState missing", db.PutWorkspaceState("w9", []byte("x")), store.ErrNotFound)

	data := []byte(`{"open":["main.go"]}`)
	if err := db.PutWorkspaceState("w1", data); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the store must have copied it
	got, err := db.GetWorkspaceState("w1")
	if err != nil || string(got) != `{"open":["main.go"]}` {
		t.Errorf("GetWorkspaceState = %q, %v", got, err)
	}
	got[0] = 'Y' // and must hand out a copy
	if again, _ := db.GetWorkspaceState("w1"); string(again) != `{"open":["main.go"]}` {
		t.Errorf("GetWorkspaceState returned shared memory: %q", again)
	}
	if err := db.PutWorkspaceState("w1", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetWorkspaceState("w1"); err != nil || got != nil {
		t.Errorf("GetWorkspaceState after empty put = %q, %v", got, err)
	}

	// Deleting the workspace deletes its state: a new workspace with the same id starts empty.
	if err := db.PutWorkspaceState("w1", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWorkspace("w1"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateWorkspace(ws("w1", "acme", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetWorkspaceState("w1"); err != nil || got != nil {
		t.Errorf("recreated workspace inherited state %q, %v", got, err)
	}
}
