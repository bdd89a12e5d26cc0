package lsp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"github.com/sourcegraph/jsonrpc2"
)

// hotRoots are a session's roots as on a server without isolation: host
// directories that any answer naming a file holds.
var hotRoots = Roots{
	Workspace:  "/srv/ideserver/data/workspaces/ws1",
	GoRoot:     "/usr/local/go",
	GoModCache: "/srv/ideserver/data/tenants/t1/users/u1/home/go/pkg/mod",
	Redact:     []string{"/srv/ideserver/data"},
}

// completionReply is a completion answer like gopls's after "strings.": n
// items with documentation holding '<' and '>', which encoding/json
// writes as \u003c and \u003e, and no path.
func completionReply(id json.RawMessage, n int) []byte {
	items := make([]any, n)
	for i := range items {
		name := "Func" + strconv.Itoa(i)
		items[i] = map[string]any{
			"label": name, "kind": 3, "detail": "func(s string, sep string) []string",
			"documentation": map[string]any{"kind": "markdown", "value": name + " slices s into all substrings separated by sep and returns a slice of the substrings between those separators. If n < 0, there is no limit on the number of substrings; the result is 0 if a == b, -1 if a < b, and +1 if a > b.\n"},
			"sortText":      fmt.Sprintf("%05d", i), "filterText": name, "insertTextFormat": 1,
			"textEdit": map[string]any{"range": map[string]any{"start": map[string]any{"line": 4, "character": 16}, "end": map[string]any{"line": 4, "character": 16}}, "newText": name},
		}
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": map[string]any{"isIncomplete": true, "items": items}})
	return b
}

// discardConn is a client that drops what it is sent.
type discardConn struct {
	mu sync.Mutex
	n  int
}

func (*discardConn) ReadText() ([]byte, error) { return nil, io.EOF }
func (c *discardConn) WriteText(b []byte) error {
	c.mu.Lock()
	c.n += len(b)
	c.mu.Unlock()
	return nil
}
func (*discardConn) Stop(error) {}

type discardPipe struct{}

func (discardPipe) Read([]byte) (int, error)    { return 0, io.EOF }
func (discardPipe) Write(b []byte) (int, error) { return len(b), nil }
func (discardPipe) Close() error                { return nil }

// hotSession is a session over hotRoots whose gopls and client discard
// what they are sent.
func hotSession(tb testing.TB) (*session, *gopls, *discardConn) {
	m := &Manager{opts: Options{MaxInFlight: 1 << 30, MaxOpenBytes: 1 << 30, MessageRate: 1e9, MessageBurst: 1 << 30}, log: slog.New(slog.DiscardHandler)}
	c := &discardConn{}
	s := newSession(m, target{roots: hotRoots}, c, func() {})
	g := &gopls{stream: jsonrpc2.NewBufferedStream(discardPipe{}, frameCodec{max: 1 << 26}), done: make(chan struct{}), waiters: map[string]chan *message{}}
	s.srv = g
	return s, g, c
}

// BenchmarkFromServer is the proxy's work on one message from gopls,
// without I/O: a large completion answer with no path, a hover answer
// with host paths, a diagnostics notification with host paths.
func BenchmarkFromServer(b *testing.B) {
	ws := hotRoots.Workspace
	cases := []struct {
		name, method string
		raw          func(id string) []byte
	}{
		{"completion", "textDocument/completion", func(id string) []byte { return completionReply(json.RawMessage(id), 60) }},
		{"hover", "textDocument/hover", func(id string) []byte {
			return []byte(`{"jsonrpc":"2.0","result":{"contents":{"kind":"markdown","value":"` + "```go\\nfunc fmt.Println(a ...any) (n int, err error)\\n```\\n\\n[x](file://" + ws + `/main.go) at ` + ws + `"},"range":{"start":{"line":5,"character":5},"end":{"line":5,"character":12}}},"id":` + id + `}`)
		}},
		{"diagnostics", "", func(string) []byte {
			return []byte(`{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file://` + ws + `/main.go","version":3,"diagnostics":[{"range":{"start":{"line":5,"character":1},"end":{"line":5,"character":4}},"severity":1,"source":"compiler","message":"undefined: x in ` + ws + `/main.go"}]}}`)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s, g, client := hotSession(b)
			raws := make([][]byte, 64)
			for i := range raws {
				raws[i] = c.raw(strconv.Itoa(i + 1))
			}
			b.SetBytes(int64(len(raws[0])))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				raw := raws[i%len(raws)]
				if c.method != "" {
					s.mu.Lock()
					s.pending["n:"+strconv.Itoa(i%len(raws)+1)] = c.method
					s.mu.Unlock()
				}
				s.fromServer(g, raw)
			}
			if client.n == 0 {
				b.Fatal("nothing reached the client")
			}
		})
	}
}

// BenchmarkFromClient is the proxy's work on one client message, without
// I/O: a completion request (the raw path), and a didSave notification
// with an unknown field (the decoding path: decoding, the policy,
// rewriting its URI and encoding it for gopls).
func BenchmarkFromClient(b *testing.B) {
	for _, c := range []struct{ name, raw string }{
		{"completion", `{"jsonrpc":"2.0","id":7,"method":"textDocument/completion","params":{"textDocument":{"uri":"file:///workspace/s.go"},"position":{"line":4,"character":16},"context":{"triggerKind":2,"triggerCharacter":"."}}}`},
		{"decoded", `{"jsonrpc":"2.0","method":"textDocument/didSave","params":{"textDocument":{"uri":"file:///workspace/s.go"},"x-future":"\u00e9"}}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, _, _ := hotSession(b)
			raw := []byte(c.raw)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.clientMessage(context.Background(), raw); err != nil {
					b.Fatal(err)
				}
				s.mu.Lock()
				clear(s.pending)
				s.mu.Unlock()
			}
		})
	}
}
