package web_test

import (
	"io/fs"
	"regexp"
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
	// The code-split build preloads the chunks index.js imports; each exists.
	preloads := regexp.MustCompile(`<link rel="modulepreload" href="/(assets/[^"]+\.js)">`).FindAllStringSubmatch(string(page), -1)
	if len(preloads) == 0 {
		t.Error("index.html preloads no chunks")
	}
	for _, m := range preloads {
		if b, err := fs.ReadFile(dist, m[1]); err != nil || len(b) == 0 {
			t.Errorf("preloaded %s: %d bytes, %v", m[1], len(b), err)
		}
	}
	if strings.Contains(string(page), "<script>") {
		t.Error("index.html has an inline script; the CSP forbids it")
	}
}
