package lsp_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// completionFiles is the hello workspace with a second file, s.go, whose
// "strings." is where completionParams asks: every exported name of
// package strings with its documentation, some sixty items.
var completionFiles = map[string]string{
	"go.mod":  helloFiles["go.mod"],
	"main.go": helloMain,
	"s.go":    "package main\n\nimport \"strings\"\n\nvar _ = strings.ToUpper\n",
}

// completionParams asks for completion in s.go (next to main.go at
// mainURI) right after "strings." (line 4, character 16).
func completionParams(mainURI string) any {
	uri := strings.TrimSuffix(mainURI, "main.go") + "s.go"
	return map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": 4, "character": 16},
		"context": map[string]any{"triggerKind": 2, "triggerCharacter": "."}}
}

// BenchmarkCompletion compares completion round trips after "strings." through
// the proxy (a loopback WebSocket, the proxy, gopls's stdio) with gopls's
// stdio directly, alternating the two: a large answer (tens of KiB) with
// no path to rewrite (gopls v0.22: 60 items, 30 KB). Run with
// -benchtime=300x.
func BenchmarkCompletion(b *testing.B) {
	gopls := requireGopls(b)
	compareCalls(b, newEnv(b, completionFiles), gopls, 20, "textDocument/completion", completionParams, "TrimSpace")
}

// BenchmarkCompletionOverhead isolates the proxy's cost on a large answer:
// completion round trips to the fake gopls, which answers at once with
// fakeCompletion's list (no path to rewrite), through the proxy over a
// loopback WebSocket against its stdio directly. Run with -benchtime=2000x.
func BenchmarkCompletionOverhead(b *testing.B) {
	e := newEnv(b, helloFiles)
	e.fake = true
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	compareCalls(b, e, exe, 100, "textDocument/completion", completionParams, "TrimSpace")
}

// fakeCompletion is the fake gopls's completion result: sixty items
// shaped like gopls's after "strings.", whose documentation holds '<' and
// '>' (which encoding/json writes as \u003c and \u003e), and no path.
func fakeCompletion() any {
	items := make([]any, 60)
	for i := range items {
		name := "TrimSpace" + strconv.Itoa(i)
		items[i] = map[string]any{
			"label": name, "kind": 3, "detail": "func(s string, sep string) []string",
			"documentation": map[string]any{"kind": "markdown", "value": name + " slices s into all substrings separated by sep and returns a slice of the substrings between those separators. If n < 0, there is no limit on the number of substrings; the result is 0 if a == b, -1 if a < b, and +1 if a > b.\n"},
			"sortText":      fmt.Sprintf("%05d", i), "filterText": name, "insertTextFormat": 1,
			"textEdit": map[string]any{"range": map[string]any{"start": map[string]any{"line": 4, "character": 16}, "end": map[string]any{"line": 4, "character": 16}}, "newText": name},
		}
	}
	return map[string]any{"isIncomplete": false, "items": items}
}
