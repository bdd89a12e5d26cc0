package modcache_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/ideserver/ideserver/modcache"
)

// TestResolve (RUN-09): imports no requirement provides get the latest version of
// their module, a required version stays, the build list's versions land
// in the shared cache whole, and go.mod and go.sum come back complete; a
// missing module, a tampered zip, a replace by a directory and too many
// modules are errors that name what went wrong.
func TestResolve(t *testing.T) {
	fx := newFixture(t, nil)
	fx.up.Greet(t, "example.com/greet", "v1.0.0")
	fx.up.Greet(t, "example.com/greet", "v1.1.0")
	fx.up.Greet(t, "example.com/other", "v0.1.0")
	ctx := t.Context()
	const gomod = "module play\n\ngo 1.21\n"

	r, err := fx.f.Resolve(ctx, []byte(gomod), []string{"example.com/greet"}, modcache.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	latest := module.Version{Path: "example.com/greet", Version: "v1.1.0"}
	if len(r.Versions) != 1 || r.Versions[0] != latest || !fx.f.Has(latest) {
		t.Errorf("versions %v (in the cache: %v), want %v", r.Versions, fx.f.Has(latest), latest)
	}
	if !strings.Contains(string(r.GoMod), "require example.com/greet v1.1.0") || !strings.Contains(string(r.GoSum), "example.com/greet v1.1.0 h1:") {
		t.Errorf("go.mod:\n%s\ngo.sum:\n%s", r.GoMod, r.GoSum)
	}

	r, err = fx.f.Resolve(ctx, []byte(gomod+"\nrequire example.com/greet v1.0.0\n"), []string{"example.com/greet", "example.com/other"}, modcache.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Versions) != 2 || r.Versions[0].String() != "example.com/greet@v1.0.0" || r.Versions[1].String() != "example.com/other@v0.1.0" {
		t.Errorf("with a requirement: %v", r.Versions)
	}

	fx.up.Greet(t, "example.com/tampered", "v1.0.0")
	bad := module.Version{Path: "example.com/tampered", Version: "v1.0.0"}
	var zb bytes.Buffer
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/tampered\n\ngo 1.21\n", "greet.go": "package greet\n\nfunc Hello() string { return \"tampered\" }\n"})
	if err := modzip.CreateFromDir(&zb, bad, dir); err != nil {
		t.Fatal(err)
	}
	fx.up.Tamper(bad, zb.Bytes())
	for name, tc := range map[string]struct {
		gomod   string
		imports []string
		lim     modcache.Limits
		want    error
		says    string
	}{
		"missing":  {gomod, []string{"example.com/nothere/pkg"}, modcache.Limits{}, modcache.ErrNotFound, "example.com/nothere/pkg"},
		"tampered": {gomod, []string{"example.com/tampered"}, modcache.Limits{}, modcache.ErrChecksum, "example.com/tampered"},
		"replace":  {gomod + "\nreplace example.com/greet => ../../etc\n", []string{"example.com/greet"}, modcache.Limits{}, modcache.ErrReplace, "../../etc"},
		"too many": {gomod, []string{"example.com/greet", "example.com/other"}, modcache.Limits{Modules: 1}, modcache.ErrTooMany, "2 modules"},
	} {
		_, err := fx.f.Resolve(ctx, []byte(tc.gomod), tc.imports, tc.lim)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), fx.tmp) {
			t.Errorf("%s: %v; want %v naming %q, no host path", name, err, tc.want, tc.says)
		}
	}
}
