package lsp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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
