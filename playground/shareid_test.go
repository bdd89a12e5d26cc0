package playground_test

import (
	"context"
	"testing"

	"github.com/ideserver/ideserver/playground"
	"github.com/ideserver/ideserver/workspace"
)

// TestShareIDNotFromContent is AUTH-13: share ids are not derived from
// what is shared. The same workspace shared twice, and an identical
// workspace of another tenant, get three different ids, so an id reveals
// nothing about whether known content was shared. (Playground snippets are
// another matter: public, and named by their hash for compatibility.)
func TestShareIDNotFromContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	files := map[string]string{"main.go": hello, "go.mod": "module demo\n"}
	seen := make(map[string]bool)
	for _, o := range []workspace.Owner{{Tenant: "acme", User: "alice"}, {Tenant: "other", User: "bob"}} {
		if _, err := e.db.EnsureUser(o.Tenant, o.User); err != nil {
			t.Fatal(err)
		}
		ws, err := e.ws.Create(ctx, o, workspace.CreateOptions{Name: "demo", Files: files})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			sh, _, err := e.svc.CreateShare(ctx, o, ws.ID, playground.ShareRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if seen[sh.ID] {
				t.Errorf("identical content shared again got the same id %q", sh.ID)
			}
			seen[sh.ID] = true
			got, err := e.svc.GetShare(sh.ID)
			if err != nil || got.TenantID != o.Tenant || got.UserID != o.User {
				t.Errorf("GetShare(%q) = %+v, %v; want %s's share", sh.ID, got, err, o.User)
			}
		}
	}
}
