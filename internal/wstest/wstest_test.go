package wstest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ideserver/ideserver/internal/wstest"
	"github.com/ideserver/ideserver/sandbox"
)

// TestHandle: the handle is a real workspace of the default user, holding
// the files asked for, whose processes start in it.
func TestHandle(t *testing.T) {
	h := wstest.Handle(t, wstest.Options{Files: map[string]string{"a.txt": "hello"}})
	if h.Owner.Key() != "t1/u1" || h.WorkspaceID == "" {
		t.Errorf("owner %q, workspace %q", h.Owner.Key(), h.WorkspaceID)
	}
	if b, err := os.ReadFile(filepath.Join(h.Dir, "a.txt")); err != nil || string(b) != "hello" {
		t.Errorf("a.txt = %q, %v", b, err)
	}
	env, err := h.Env()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := h.Start(context.Background(), sandbox.Cmd{Kind: "test", Path: "/bin/sh", Args: []string{"-c", "cat a.txt"}, Env: env, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if st, err := p.Wait(); err != nil || st.Code != 0 || out.String() != "hello" {
		t.Errorf("wait = %+v, %v; output %q", st, err, out.String())
	}
}
