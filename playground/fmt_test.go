package playground_test

import (
	"context"
	"testing"

	"github.com/ideserver/ideserver/playground"
)

func TestFmtGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		imports bool
	}{
		{"plain", "package main\nfunc main(){fmt.Println( 1 )}\n", false},
		{"imports", "package main\nfunc main(){fmt.Println( 1 )}\n", true},
		{"syntax_error", "package main\nfunc main(){\n", false},
		{"gomod", "package main\n-- go.mod --\nmodule   play\ngo 1.26\n", false},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		res, err := e.svc.Fmt(context.Background(), "test", tt.body, tt.imports)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		golden(t, "fmt_"+tt.name, res)
	}
}

func TestVetGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res, err := e.svc.Vet(context.Background(), "test", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Printf(\"%d\\n\", \"x\")\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "vet_errors", res)
}

func TestShareRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	body := []byte(hello)
	id, err := e.svc.Share("", body)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := e.svc.Share("", append([]byte(nil), body...))
	if err != nil || id2 != id {
		t.Fatalf("equal bodies: ids %q and %q (%v)", id, id2, err)
	}
	if other, _ := e.svc.Share("", []byte("other")); other == id {
		t.Fatal("different bodies share an id")
	}
	got, err := e.svc.Snippet(id)
	if err != nil || string(got) != hello {
		t.Fatalf("Snippet = %q, %v", got, err)
	}
	if _, err := e.svc.Snippet("nope"); err != playground.ErrNotFound {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := e.svc.Share("", make([]byte, 64<<10+1)); err == nil {
		t.Fatal("oversized snippet accepted")
	}
}
