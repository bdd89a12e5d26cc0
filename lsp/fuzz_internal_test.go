package lsp

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/internal/jsonfold"
)

// FuzzDecode (LSP-09): the LSP framer and the JSON-RPC decoder together,
// as both pumps use them: frames are read with bridge.ReadFrame's limit, decoded
// with parseMessage, checked for case-folded keys, and rewritten towards
// gopls (ToHost, client to server) and towards the client (ToClient,
// server to client). Any bytes give messages or errors, never a panic; no
// body exceeds the limit; a decoded message is a request, notification or
// response and re-encodes to a message that decodes again. The seed
// corpus runs as a normal test; `go test -fuzz FuzzDecode ./lsp/`
// explores further.
func FuzzDecode(f *testing.F) {
	frame := func(body string) []byte {
		var b bytes.Buffer
		_ = bridge.WriteFrame(&b, []byte(body))
		return b.Bytes()
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootUri":"file:///","workspaceFolders":[{"uri":"file:///etc"}]}}`,
		`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///workspace/a.go","text":"package a"}}}`,
		`{"jsonrpc":"2.0","id":"x","result":{"uri":"file:///srv/data/workspaces/ws1/a.go","value":"/srv/data/x"}}`,
		`{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}`,
		`{"jsonrpc":"2.0","id":{},"method":"x"}`,
		`{"jsonrpc":"2.0","id":1.5e300,"method":"x"}`,
		`{"jsonrpc":"2.0","method":""}`,
		`{"jsonrpc":"2.0","method":"x","params":{"uri":"file:///workspace/%2e%2e/etc/passwd"}}`,
		`{"jsonrpc":"2.0","method":"x","params":{"textDocument":{"uri":"file:///workspace/a.go","URI":"file:///etc/passwd"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"x","paramſ":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"x"}{"trailing":1}`,
		`[]`, `null`, `{`, `"s"`,
		strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200),
		`{"jsonrpc":"2.0","method":"x","params":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`,
	} {
		f.Add(frame(body))
	}
	for _, raw := range []string{
		"Content-Length: -1\r\n\r\n",
		"Content-Length: 99999999999\r\n\r\n",
		"Content-Length: 10\r\n\r\n{}",
		"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"X: " + strings.Repeat("a", 9000) + "\r\n\r\n",
		"",
	} {
		f.Add([]byte(raw))
	}
	const limit = 4096
	rw := newRewriter(Roots{
		Workspace: "/srv/data/workspaces/ws1", GoRoot: "/usr/local/go",
		GoModCache: "/srv/data/tenants/t/users/u/home/go/pkg/mod",
		Redact:     []string{"/srv/data"},
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 4 {
			body, err := bridge.ReadFrame(r, limit)
			if err != nil {
				return
			}
			if len(body) > limit {
				t.Fatalf("body of %d bytes over the limit %d", len(body), limit)
			}
			m, err := parseMessage(body)
			if err != nil {
				continue
			}
			if !m.isRequest() && !m.isNotification() && !m.isResponse() {
				t.Fatalf("decoded %q as neither request, notification nor response", body)
			}
			_ = jsonfold.Collides(m.obj, isURIKey)
			if p, ok := m.obj["params"]; ok {
				_, _ = rw.ToHost(p) // client to gopls
			}
			out := rw.ToClient(m.obj) // gopls to client
			b, err := encode(out)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if _, err := parseMessage(b); err != nil {
				t.Fatalf("re-encoded %q does not decode: %v", b, err)
			}
		}
	})
}
