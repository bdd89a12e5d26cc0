package lsp_test

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Messages with fields no LSP library knows (a made-up "x-future", nested,
// with URIs and host paths inside), as the fake gopls writes them: %[1]s
// is its working directory (the workspace), the last verb the request id.
// futureResponse takes the raw fast path, so its own layout (key order,
// spaces) survives; futureRequest, a request from gopls, is decoded and
// re-encoded, so it is written in encoding/json's form (sorted keys, no
// spaces).
const (
	futureResponse = `{"result": {"x-future": {"deep": [{"targetUri": "file://%[1]s/a.go", "n": 1.0e3, "z": null}], "note": "see %[2]s/b.go"}, "uri": "file://%[3]s/main.go"}, "jsonrpc": "2.0", "id": %[4]s}`
	futureRequest  = `{"id":"f1","jsonrpc":"2.0","method":"x-future/ask","params":{"uri":"file://%[1]s/main.go","x-future":{"list":[{"deep":{"targetUri":"file://%[2]s/a.go"}},1.50,null,true,"<&>"],"note":"see %[3]s/b.go"}}}`
)

// TestProxyKeepsUnknownFields: the proxy passes what it does not inspect
// through untouched, so fields of newer LSP versions survive. A message
// with an unknown nested "x-future" field comes out byte-identical apart
// from the rewritten URIs and paths, in both directions: the client's
// request as gopls reads it, and gopls's response and request as the
// client reads them. The unknown parts of initialize's capabilities, which
// the proxy rewrites in part, reach gopls unchanged too.
func TestProxyKeepsUnknownFields(t *testing.T) {
	e, m := fakeManager(t, nil)
	c := startSession(t, m, e.target("t1", e.workspaceID))
	host := e.Dir(e.workspaceID)

	// initialize: unknown capabilities survive the proxy's own rewrite.
	params := initParams()
	future := map[string]any{"x-future": map[string]any{"nested": []any{1.5, "file:///workspace/x.go", map[string]any{"on": true}}}}
	caps := params["capabilities"].(map[string]any)
	caps["x-future"] = future
	caps["workspace"] = map[string]any{"x-future": future, "didChangeWatchedFiles": map[string]any{"dynamicRegistration": false}}
	resp := c.call("initialize", params, waitShort)
	c.notify("initialized", map[string]any{})
	got := resp["result"].(map[string]any)["params"].(map[string]any)["capabilities"].(map[string]any)
	if g := jsonString(got["x-future"]); g != jsonString(future) {
		t.Errorf("capabilities.x-future at gopls (echoed back) = %s", g)
	}
	ws := got["workspace"].(map[string]any)
	if g := jsonString(ws["x-future"]); g != jsonString(future) {
		t.Errorf("capabilities.workspace.x-future at gopls (echoed back) = %s", g)
	}
	if g := jsonString(ws["didChangeWatchedFiles"]); g != `{"dynamicRegistration":true,"relativePatternSupport":true}` {
		t.Errorf("didChangeWatchedFiles capability at gopls = %s", g)
	}

	// Client to gopls.
	c.nextID++
	sent := `{"id":` + jsonString(c.nextID) + `,"jsonrpc":"2.0","method":"fake/raw","params":{"textDocument":{"uri":"file:///workspace/main.go"},"x-future":{"a":[1,2.50,{"b":null,"uri":"file:///workspace/x.go"},"ünïcode <&>"],"z":{"targetUri":"file:///workspace/dir/y.go"}}}}`
	mark := len(c.seen)
	c.sendRaw([]byte(sent))
	c.response(c.nextID, waitShort)
	rr := c.awaitFrom(mark, "gopls's report of what it read", waitShort, isMethod("fake/rawReceived"))
	want := strings.ReplaceAll(sent, "file:///workspace", "file://"+host)
	body, err := base64.StdEncoding.DecodeString(rr["params"].(map[string]any)["body"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != want {
		t.Errorf("gopls read\n%s\nwant\n%s", body, want)
	}

	// gopls to client: a response (raw fast path) and a request (decoded).
	mark = len(c.seen)
	id := c.request("fake/future", nil)
	c.response(id, waitShort)
	c.awaitFrom(mark, "gopls's request", waitShort, isMethod("x-future/ask"))
	client := strings.NewReplacer("%[1]s", "/workspace", "%[2]s", "/workspace", "%[3]s", "/workspace", "%[4]s", jsonString(id))
	wants := map[string]string{
		"response": client.Replace(futureResponse),
		"request":  client.Replace(futureRequest),
	}
	for i, m := range c.seen[mark:] {
		which := ""
		switch {
		case m["method"] == "x-future/ask":
			which = "request"
		case m["id"] == float64(id) && m["method"] == nil:
			which = "response"
		default:
			continue
		}
		if got := string(c.bytes[mark+i]); got != wants[which] {
			t.Errorf("client read the %s\n%s\nwant\n%s", which, got, wants[which])
		}
		delete(wants, which)
	}
	if len(wants) > 0 {
		t.Errorf("client never read %v", wants)
	}
}
