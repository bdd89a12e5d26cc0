package lsp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ideserver/ideserver/internal/jsonfold"
)

// scanSeeds are messages and near-messages for scanMessage and the raw
// path from gopls: valid and invalid JSON, escapes that spell host
// directories, duplicate and escaped keys.
var scanSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"result":null}`,
	`{"jsonrpc":"2.0","id":"a\"b","result":null}`,
	`{"jsonrpc":"2.0","id":-1.5e3,"result":[1,2,{"a":[]}]}`,
	`{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///srv/ideserver/data/workspaces/ws1/a.go"}}`,
	` { "id" : 2 , "result" : { "x" : "\u003c\u003e\u0026 \n\t" } } `,
	`{"id":3,"result":"\/srv\/ideserver\/data\/workspaces\/ws1\/a.go"}`,
	`{"id":4,"result":"\u002fsrv/ideserver/data/workspaces/ws1/a.go"}`,
	`{"id":5,"result":"/srv\u002fideserver/data/x"}`,
	`{"id":6,"result":"/sr\u0076/ideserver/data/x"}`,
	`{"id":7,"result":"/srv/ideserver/dat\u0061"}`,
	`{"id":8,"result":"\ud83d\ude00 /srv/ideserver/data"}`,
	`{"id":9,"result":"\\u002fsrv/ideserver/data"}`,
	`{"id":10,"result":{"file:///srv/ideserver/data/workspaces/ws1/a.go":[]}}`,
	`{"id":11,"id":12,"result":1}`,
	`{"\u0069d":13,"result":1}`,
	`{"id":14,"method":"x","params":{}}`,
	`{"method":"","params":{}}`,
	`{"method":7}`,
	`{"method":"a\/b","params":{}}`,
	`{"id":null,"method":"x"}`,
	`{"id":15,"result":1}{"id":16}`,
	`{"id":17,"result":01}`, `{"id":18,"result":1.}`, `{"id":19,"result":-}`, `{"id":20,"result":1e}`,
	`{"id":21,"result":"a` + "\x01" + `b"}`, `{"id":22,"result":"\x"}`, `{"id":23,"result":"\u12"}`,
	`{"id":24,"result":tru}`, `{"id":25,"result":[1,]}`, `{"id":26,"result":{"a":1,}}`, `{"id":27,"result":{"a"}}`,
	`{"id":28,"result":"` + "\xff" + `"}`,
	`[]`, `null`, `"s"`, `{`, ``, `{"a":1} x`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

// TestScanMessage: scanMessage accepts exactly the valid JSON objects (in
// valid UTF-8, without escaped top-level keys), and finds the id and
// method that decoding finds.
func TestScanMessage(t *testing.T) {
	t.Parallel()
	for _, s := range scanSeeds {
		checkScan(t, []byte(s))
	}
	checkScan(t, completionReply(json.RawMessage("1"), 60))
}

func checkScan(t *testing.T, raw []byte) {
	t.Helper()
	env, _, ok := scanMessage(raw, func(rune) bool { return false })
	var obj map[string]json.RawMessage
	decodable := utf8.Valid(raw) && json.Unmarshal(raw, &obj) == nil && obj != nil
	if ok && !decodable {
		t.Errorf("scanMessage accepts %q, which is no JSON object", raw)
		return
	}
	if !ok {
		if decodable && !bytes.Contains(raw, []byte(`\u0069`)) && !bytes.Contains(raw, []byte(`"method":7`)) && !bytes.Contains(raw, []byte(`"method":"a\/b"`)) && !bytes.HasPrefix(raw, []byte("[")) {
			t.Errorf("scanMessage refuses %q", raw)
		}
		return
	}
	if id, has := obj["id"]; has != (env.id != nil) || !bytes.Equal(id, env.id) {
		t.Errorf("%q: id %q, want %q", raw, env.id, id)
	}
	m, has := obj["method"]
	if has != env.hasMethod {
		t.Errorf("%q: hasMethod %v", raw, env.hasMethod)
	} else if has {
		var want string
		if json.Unmarshal(m, &want) != nil || want != string(env.method) {
			t.Errorf("%q: method %q, want %s", raw, env.method, m)
		}
	}
}

// FuzzScanMessage: anything scanMessage accepts decodes as a JSON object
// with the same id and method. The seeds run as a normal test.
func FuzzScanMessage(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, _, ok := scanMessage(raw, func(rune) bool { return false })
		if !ok {
			return
		}
		var obj map[string]json.RawMessage
		if !utf8.Valid(raw) || json.Unmarshal(raw, &obj) != nil || obj == nil {
			t.Fatalf("scanMessage accepts %q, which is no JSON object", raw)
		}
		if id, has := obj["id"]; has != (env.id != nil) || !bytes.Equal(id, env.id) {
			t.Fatalf("%q: id %q, want %q", raw, env.id, id)
		}
		if m, has := obj["method"]; has != env.hasMethod || (has && string(m) != `"`+string(env.method)+`"`) {
			t.Fatalf("%q: method %q, want %s", raw, env.method, m)
		}
	})
}

// FuzzFromServerNoHostPath (LSP-03 on the raw path): whatever gopls sends,
// as a response to a pending request or a notification, reaches the
// client as JSON none of whose strings or keys holds a host directory,
// however JSON escapes spell it; a message that holds none is forwarded
// as it came, without a copy. The seeds run as a normal test.
func FuzzFromServerNoHostPath(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Add(completionReply(json.RawMessage("1"), 3))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, g, _ := hotSession(t)
		var got [][]byte
		s.client = &recordConn{out: &got}
		for i := range 30 {
			s.pending["n:"+itoa(i)] = "textDocument/hover"
		}
		s.fromServer(g, raw)
		s.wg.Wait()
		for _, out := range got {
			var v any
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("%q reached the client as %q: %v", raw, out, err)
			}
			if p := hostPathIn(s.rw, v); p != "" {
				t.Fatalf("%q reached the client as %q, holding %q", raw, out, p)
			}
			if !s.rw.text.containsBytes(raw) && json.Valid(raw) && bytes.Equal(out, raw) && len(raw) > 0 && &out[0] != &raw[0] {
				t.Errorf("%q was copied", raw)
			}
		}
	})
}

// recordConn is a client that keeps what it is sent.
type recordConn struct{ out *[][]byte }

func (recordConn) ReadText() ([]byte, error)  { return nil, nil }
func (c recordConn) WriteText(b []byte) error { *c.out = append(*c.out, b); return nil }
func (recordConn) Stop(error)                 {}

// hostPathIn returns a string or key of v that holds one of rw's host
// directories, "" when none does.
func hostPathIn(rw *rewriter, v any) string {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if rw.text.contains(k) {
				return k
			}
			if p := hostPathIn(rw, e); p != "" {
				return p
			}
		}
	case []any:
		for _, e := range x {
			if p := hostPathIn(rw, e); p != "" {
				return p
			}
		}
	case string:
		if rw.text.contains(x) {
			return x
		}
	}
	return ""
}

// TestFromServerRawPath: an answer without a host directory, escapes and
// all, reaches the client as the very bytes gopls wrote (no copy); one
// with host directories is rewritten in place of them and otherwise keeps
// its bytes; escapes that spell a host directory are decoded and
// rewritten.
func TestFromServerRawPath(t *testing.T) {
	t.Parallel()
	s, g, _ := hotSession(t)
	var got [][]byte
	s.client = &recordConn{out: &got}
	send := func(id int, raw []byte) []byte {
		t.Helper()
		s.pending["n:"+itoa(id)] = "textDocument/completion"
		got = nil
		s.fromServer(g, raw)
		if len(got) != 1 {
			t.Fatalf("%d messages reached the client", len(got))
		}
		return got[0]
	}
	plain := completionReply(json.RawMessage("1"), 60)
	if out := send(1, plain); &out[0] != &plain[0] || len(out) != len(plain) {
		t.Error("a completion without paths was copied or changed")
	}
	ws := hotRoots.Workspace
	withPath := []byte(`{"id":2,"result":{"a":"\u003c see ` + ws + `/a.go","b":"file://` + ws + `/b.go"}}`)
	if out, want := send(2, withPath), `{"id":2,"result":{"a":"\u003c see /workspace/a.go","b":"file:///workspace/b.go"}}`; string(out) != want {
		t.Errorf("rewritten to %s, want %s", out, want)
	}
	escaped := []byte(`{"id":3,"result":{"a":"see \/srv\/ideserver\/data\/workspaces\/ws1\/a.go"}}`)
	if out, want := send(3, escaped), `{"id":3,"result":{"a":"see /workspace/a.go"}}`; string(out) != want {
		t.Errorf("rewritten to %s, want %s", out, want)
	}
}

// rawClientSeeds are client messages for rawClient: URIs in and outside
// the roots, under URI keys and not, in arrays, folded and duplicate keys,
// escapes, methods it leaves to the decoding path.
var rawClientSeeds = []string{
	`{"jsonrpc":"2.0","id":7,"method":"textDocument/completion","params":{"textDocument":{"uri":"file:///workspace/s.go"},"position":{"line":4,"character":16},"context":{"triggerKind":2,"triggerCharacter":"."}}}`,
	`{"jsonrpc":"2.0","id":"x","method":"textDocument/hover","params":{"textDocument":{"uri":"file:///goroot/src/fmt/print.go"},"position":{"line":1,"character":2}}}`,
	` { "jsonrpc" : "2.0" , "id" : 1 , "method" : "textDocument/definition" , "params" : { "textDocument" : { "uri" : "file:///gomodcache/x@v1/a.go" } , "position" : { "line" : 0 , "character" : 0 } } } `,
	`{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///etc/passwd"}}}`,
	`{"jsonrpc":"2.0","id":3,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///workspace/../etc/passwd"}}}`,
	`{"jsonrpc":"2.0","id":4,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///workspace/%2e%2e/etc/passwd"}}}`,
	`{"jsonrpc":"2.0","id":5,"method":"textDocument/hover","params":{"textDocument":{"uri":"/etc/passwd"}}}`,
	`{"jsonrpc":"2.0","id":6,"method":"textDocument/hover","params":{"textDocument":{"URI":"file:///etc/passwd","uri":"file:///workspace/a.go"}}}`,
	`{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///workspace/a.go","uri":"file:///etc/passwd"}}}`,
	`{"jsonrpc":"2.0","id":8,"method":"textDocument/hover","method":"workspace/executeCommand","params":{"command":"gopls.run_tests"}}`,
	`{"jsonrpc":"2.0","id":9,"method":"textDocument/hover","Params":{},"params":{}}`,
	`{"jsonrpc":"2.0","id":10,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:\/\/\/etc\/passwd"}}}`,
	`{"jsonrpc":"2.0","id":11,"method":"textDocument/codeAction","params":{"textDocument":{"uri":"file:///workspace/a.go"},"context":{"diagnostics":[{"message":"file:///etc/x","relatedInformation":[{"location":{"uri":"file:///workspace/b.go"}}]}]},"x":["FILE:///workspace/c.go","file:///nowhere",{"targetUri":"file:///workspace/d.go"}]}}`,
	`{"jsonrpc":"2.0","id":12,"method":"textDocument/codeAction","params":{"text":"file:///etc/passwd","newText":"file:///x","list":[{"text":"file:///y"}]}}`,
	`{"jsonrpc":"2.0","id":"ideserver-1","method":"textDocument/hover","params":{}}`,
	`{"jsonrpc":"2.0","id":{},"method":"textDocument/hover","params":{}}`,
	`{"jsonrpc":"2.0","id":13,"method":"textDocument/hover","params":{"file:///workspace/a.go":[]}}`,
	`{"jsonrpc":"2.0","id":14,"method":"textDocument/hover","params":{"paramſ":1,"params":2}}`,
	`{"jsonrpc":"2.0","id":15,"method":"workspace/executeCommand","params":{"command":"x"}}`,
	`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":3}}`,
	`{"jsonrpc":"2.0","method":"textDocument/didSave","params":{"textDocument":{"uri":"file:///workspace/a b.go"}}}`,
	`{"jsonrpc":"2.0","id":16,"method":"textDocument/hover","params":null}`,
	`{"jsonrpc":"2.0","id":17,"method":"textDocument/hover","params":[{"uri":["file:///workspace/a.go","file:///workspace"]}],"x":"file:///etc"}`,
	`{"jsonrpc":"2.0","id":18,"method":"textDocument/hover","params":{"uri":"file:///workspace/ä.go"}}`,
}

// decodeNumbers decodes JSON with numbers as their text.
func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// checkRawClient: what rawClient forwards is what the decoding path would
// forward (the same JSON value), and it forwards only messages the
// decoding path accepts as they are: well formed, without folded keys,
// with every URI inside the roots, not reserved.
func checkRawClient(t *testing.T, rw *rewriter, raw []byte) {
	t.Helper()
	out, env, ok := rw.rawClient(raw)
	if !ok || rawClientMessage(env) == nil {
		return
	}
	msg, err := parseMessage(raw)
	if err != nil {
		t.Fatalf("rawClient forwards %q, which the decoding path refuses: %v", raw, err)
	}
	if jsonfold.Collides(msg.obj, isURIKey) {
		t.Fatalf("rawClient forwards %q, whose keys collide", raw)
	}
	if isProxyID(msg.id) || msg.method != string(env.method) || msg.isRequest() != (rawClientMessage(env).idKey != "") {
		t.Fatalf("rawClient forwards %q as method %q", raw, env.method)
	}
	if p := msg.obj["params"]; p != nil {
		np, err := rw.ToHost(p)
		if err != nil {
			t.Fatalf("rawClient forwards %q, whose params ToHost refuses: %v", raw, err)
		}
		msg.obj["params"] = np
	}
	want, _ := msg.encode()
	got, err := decodeNumbers(out)
	if err != nil {
		t.Fatalf("rawClient turns %q into %q: %v", raw, out, err)
	}
	w, _ := decodeNumbers(want)
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("rawClient turns %q into\n%s, the decoding path into\n%s", raw, out, want)
	}
}

// TestRawClient: the client messages rawClient forwards are forwarded as
// the decoding path forwards them, and the others are left to it: a URI
// outside the roots, folded or duplicate keys, escapes, a reserved id, a
// method with a policy.
func TestRawClient(t *testing.T) {
	t.Parallel()
	rw := newRewriter(hotRoots)
	fast := 0
	for _, s := range rawClientSeeds {
		checkRawClient(t, rw, []byte(s))
		if _, env, ok := rw.rawClient([]byte(s)); ok && rawClientMessage(env) != nil {
			fast++
		}
	}
	for i, s := range rawClientSeeds {
		_, env, ok := rw.rawClient([]byte(s))
		want := i < 3 || i == 13 || i >= 19
		if ok && rawClientMessage(env) != nil != want {
			t.Errorf("%s: forwarded raw %v, want %v", s, !want, want)
		}
		if !ok && want {
			t.Errorf("%s: not forwarded raw", s)
		}
	}
	out, _, _ := rw.rawClient([]byte(rawClientSeeds[0]))
	if want := strings.Replace(rawClientSeeds[0], "file:///workspace", "file://"+hotRoots.Workspace, 1); string(out) != want {
		t.Errorf("rewritten to %s, want %s", out, want)
	}
}

// FuzzRawClient: checkRawClient for any input. The seeds run as a normal
// test.
func FuzzRawClient(f *testing.F) {
	for _, s := range rawClientSeeds {
		f.Add([]byte(s))
	}
	rw := newRewriter(hotRoots)
	f.Fuzz(func(t *testing.T, raw []byte) { checkRawClient(t, rw, raw) })
}
