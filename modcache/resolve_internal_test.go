package modcache

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestHidePaths: Resolve's errors, which a playground client reads, name
// none of the fetcher's host directories, and still wrap their cause.
func TestHidePaths(t *testing.T) {
	f := &Fetcher{opts: Options{TempDir: "/srv/ide/cache/modfetch", Dir: "/srv/ide/cache/gomodcache"}}
	err := fmt.Errorf("%w: example.com/x@v1.0.0: open /srv/ide/cache/modfetch/fetch-123/mod/x.zip and /srv/ide/cache/gomodcache/cache: denied", ErrChecksum)
	got := f.hidePaths(err)
	if strings.Contains(got.Error(), "/srv/") || !strings.Contains(got.Error(), "example.com/x@v1.0.0") || !errors.Is(got, ErrChecksum) {
		t.Errorf("hidePaths = %q (wraps ErrChecksum: %v)", got, errors.Is(got, ErrChecksum))
	}
	if plain := errors.New("no path here"); f.hidePaths(plain) != plain || f.hidePaths(nil) != nil {
		t.Error("an error without a host path is not returned as it was")
	}
}
