package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ideserver/ideserver/internal/bridge"
	"github.com/ideserver/ideserver/server"
	"github.com/ideserver/ideserver/workspace"
)

// fakeLSP echoes each message with the owner key and workspace of the
// handle it was given; a message "close" ends the session with a close
// code.
type fakeLSP struct{}

func (f *fakeLSP) Serve(ctx context.Context, h *workspace.Handle, client *bridge.Conn) error {
	for {
		raw, err := client.ReadText()
		if err != nil {
			return err
		}
		if string(raw) == `"close"` {
			return bridge.Closing(1011, "gopls keeps crashing", nil)
		}
		out, _ := json.Marshal(map[string]any{"owner": h.Owner.Key(), "ws": h.WorkspaceID, "got": json.RawMessage(raw)})
		if err := client.WriteText(out); err != nil {
			return err
		}
	}
}

// newLSPHarness is a harness serving fakeLSP, whose workspaces' read-only
// roots (workspace.Handle.ReadOnlyRoot) are a fake GOROOT holding
// src/fmt/print.go and a symlink out (src/escape), and the users' module
// caches. The server's workspace.Manager is one with that GOROOT over the
// harness's store and workspace directory.
func newLSPHarness(t *testing.T) (*harness, *fakeLSP) {
	t.Helper()
	base := t.TempDir()
	goroot := filepath.Join(base, "goroot")
	if err := os.MkdirAll(filepath.Join(goroot, "src", "fmt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(goroot, "src", "fmt", "print.go"), []byte("package fmt\n\nfunc Println() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "secret"), []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "secret"), filepath.Join(goroot, "src", "escape")); err != nil {
		t.Fatal(err)
	}
	f := &fakeLSP{}
	h := newHarness(t, func(o *server.Options) {
		m, err := workspace.NewManager(workspace.ManagerOptions{
			Store: o.Store, Dir: o.Workspaces.Dir(""), TenantsDir: filepath.Join(base, "tenants"),
			Watchers: o.Watchers, Go: workspace.GoEnv{Root: goroot},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		o.Workspaces = m
		o.LSP = f
	})
	return h, f
}

func TestLSPReadOnlyRoots(t *testing.T) {
	h, _ := newLSPHarness(t)
	base := "/api/v1/workspaces/" + h.wsA
	r := h.do("GET", base+"/goroot/src/fmt/print.go", nil, bearer(h.tokA))
	wantStatus(t, "goroot file", r, http.StatusOK)
	if !strings.Contains(string(r.Body), "func Println") {
		t.Errorf("goroot file body %q", r.Body)
	}
	r = h.do("GET", base+"/goroot/src/fmt/", nil, bearer(h.tokA))
	wantStatus(t, "goroot dir", r, http.StatusOK)
	if !strings.Contains(string(r.Body), `"print.go"`) {
		t.Errorf("goroot listing %s", r.Body)
	}
	wantStatus(t, "gomodcache root", h.do("GET", base+"/gomodcache/", nil, bearer(h.tokA)), http.StatusOK)
	wantError(t, "missing file", h.do("GET", base+"/goroot/src/nope.go", nil, bearer(h.tokA)), http.StatusNotFound, "not_found")
	wantError(t, "symlink out", h.do("GET", base+"/goroot/src/escape", nil, bearer(h.tokA)), http.StatusBadRequest, "invalid_path")
	wantError(t, "dotdot", h.raw("GET", base+"/goroot/src/../../secret", nil, "Authorization", "Bearer "+h.tokA), http.StatusBadRequest, "invalid_path")
	wantError(t, "encoded dotdot", h.do("GET", base+"/goroot/src/%2e%2e/%2e%2e/secret", nil, bearer(h.tokA)), http.StatusBadRequest, "invalid_path")
	wantError(t, "another tenant", h.do("GET", "/api/v1/workspaces/"+h.wsB+"/goroot/src/fmt/print.go", nil, bearer(h.tokA)), http.StatusNotFound, "not_found")
	wantError(t, "no credential", h.do("GET", base+"/goroot/src/fmt/print.go", nil), http.StatusUnauthorized, "unauthorized")
}

func TestLSPWebSocket(t *testing.T) {
	h, _ := newLSPHarness(t)
	path := "/api/v1/workspaces/" + h.wsA + "/lsp"
	if _, r := h.dial("/api/v1/workspaces/"+h.wsB+"/lsp", hdr("Authorization", "Bearer "+h.tokA), nil); r.Status != http.StatusNotFound {
		t.Errorf("other tenant's workspace: %d, want 404", r.Status)
	}
	conn, r := h.dial(path, hdr("Authorization", "Bearer "+h.tokA), nil)
	if conn == nil {
		t.Fatalf("dial: %v", r)
	}
	rd := readAll(t, conn)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"x"}`)); err != nil {
		t.Fatal(err)
	}
	m, _ := rd.next(t)
	var got map[string]any
	if err := json.Unmarshal(m.data, &got); err != nil || got["owner"] != "a/a1" || got["ws"] != h.wsA || m.typ != websocket.TextMessage {
		t.Errorf("echo %d %s", m.typ, m.data)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`"close"`)); err != nil {
		t.Fatal(err)
	}
	if err := rd.closed(t); !websocket.IsCloseError(err, websocket.CloseInternalServerErr) {
		t.Errorf("close: %v, want 1011", err)
	}

	conn, _ = h.dial(path, hdr("Authorization", "Bearer "+h.tokA), nil)
	rd = readAll(t, conn)
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := rd.closed(t); !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
		t.Errorf("binary frame: %v, want 1003", err)
	}
}

func TestLSPRoutesOffWithoutService(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/api/v1/workspaces/"+h.wsA+"/goroot/src/fmt/print.go", nil, bearer(h.tokA))
	wantStatus(t, "goroot without LSP", r, http.StatusNotFound)
}
