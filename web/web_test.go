package web_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/web"
)

// The embedded build holds the page and the assets it loads. That it is
// the build of the current sources is checked by `make web`.
func TestDist(t *testing.T) {
	dist := web.Dist()
	page, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, asset := range []string{"assets/index.js", "assets/index.css"} {
		if !strings.Contains(string(page), `"/`+asset+`"`) {
			t.Errorf("index.html does not load /%s", asset)
		}
		if b, err := fs.ReadFile(dist, asset); err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes, %v", asset, len(b), err)
		}
	}
	if strings.Contains(string(page), "<script>") {
		t.Error("index.html has an inline script; the CSP forbids it")
	}
}
