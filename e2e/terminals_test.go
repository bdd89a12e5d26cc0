package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type terminalJSON struct {
	ID        string    `json:"id"`
	Cols      int       `json:"cols"`
	Rows      int       `json:"rows"`
	CreatedAt time.Time `json:"created_at"`
}

// termReader collects a terminal WebSocket's output in its own goroutine.
type termReader struct {
	out  chan []byte // binary frames; closed when reading ends
	ctrl chan string // text frames
}

func readTerminal(t *testing.T, conn *websocket.Conn) *termReader {
	r := &termReader{out: make(chan []byte, 4096), ctrl: make(chan string, 64)}
	go func() {
		defer close(r.out)
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage {
				r.out <- data
			} else {
				r.ctrl <- string(data)
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return r
}

// expect waits until the output holds s.
func (r *termReader) expect(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	var got bytes.Buffer
	deadline := time.After(timeout)
	for !strings.Contains(got.String(), s) {
		select {
		case b, ok := <-r.out:
			if !ok {
				t.Fatalf("terminal closed before %q; output %q", s, got.String())
			}
			got.Write(b)
		case <-deadline:
			t.Fatalf("no %q within %v; output %q", s, timeout, got.String())
		}
	}
}

func TestTerminalGoRun(t *testing.T) {
	t.Parallel()
	// defaultEnv keeps go run off the network (GOPROXY=off).
	s := startServer(t)
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "hello", "template": "hello"})
	base := "/api/v1/workspaces/" + ws.ID + "/terminals"

	var term terminalJSON
	s.call(t, request{Method: "POST", Path: base, Token: s.Token, Body: map[string]any{"cols": 100, "rows": 30}}, http.StatusCreated, &term)
	if term.ID == "" || term.Cols != 100 || term.Rows != 30 {
		t.Fatalf("created %+v", term)
	}
	// Client-chosen shell, cwd or environment are refused.
	resp := s.do(t, request{Method: "POST", Path: base, Token: s.Token, Body: map[string]any{"shell": "/bin/sh", "env": map[string]string{"LD_PRELOAD": "x"}}})
	wantError(t, "create with shell and env", resp, http.StatusBadRequest, "invalid_json")

	// Another tenant's user sees no such terminal.
	other := s.createToken(t, "other", "mallory")
	if _, resp, err := s.dialWS(base+"/"+term.ID+"/attach", bearer(other.Token)); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("other tenant's attach: %v, want 404", err)
	}

	conn, _, err := s.dialWS(base+"/"+term.ID+"/attach", bearer(s.Token))
	if err != nil {
		t.Fatal(err)
	}
	r := readTerminal(t, conn)
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte("go run .\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.expect(t, "Hello, ideserver!", 150*time.Second) // a cold per-tenant build cache: fmt and runtime compile first; slow when the e2e suite builds gopls and dlv in parallel
	t.Logf("go run . took %v", time.Since(start))

	var list struct {
		Terminals []terminalJSON `json:"terminals"`
	}
	s.call(t, request{Method: "GET", Path: base, Token: s.Token}, http.StatusOK, &list)
	if len(list.Terminals) != 1 || list.Terminals[0].ID != term.ID {
		t.Errorf("list = %+v", list.Terminals)
	}

	s.call(t, request{Method: "DELETE", Path: base + "/" + term.ID, Token: s.Token}, http.StatusNoContent, nil)
	select {
	case c := <-r.ctrl:
		var m struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(c), &m); err != nil || m.Type != "exit" {
			t.Errorf("control after delete: %s", c)
		}
	case <-time.After(15 * time.Second):
		t.Error("no exit message after DELETE")
	}
	s.call(t, request{Method: "GET", Path: base, Token: s.Token}, http.StatusOK, &list)
	if len(list.Terminals) != 0 {
		t.Errorf("list after delete = %+v", list.Terminals)
	}
}
