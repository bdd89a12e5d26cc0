package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWorkspaceLifecycle: rename, UI state, suspend, resume by use and by
// request, and delete (which also ends the workspace's watch socket).
func TestWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ws := s.createWorkspace(t, s.Token, map[string]any{"name": "life", "files": map[string]string{"a.txt": "a"}})
	base := "/api/v1/workspaces/" + ws.ID
	get := func(t *testing.T) workspaceJSON {
		t.Helper()
		var w workspaceJSON
		s.call(t, request{Method: "GET", Path: base, Token: s.Token}, http.StatusOK, &w)
		return w
	}

	t.Run("rename", func(t *testing.T) {
		var w workspaceJSON
		s.call(t, request{Method: "PATCH", Path: base, Token: s.Token, Body: map[string]string{"name": "renamed"}}, http.StatusOK, &w)
		if w.Name != "renamed" || get(t).Name != "renamed" {
			t.Errorf("after PATCH: %+v, want name renamed", w)
		}
		resp := s.do(t, request{Method: "PATCH", Path: base, Token: s.Token, Body: map[string]string{"name": "bad\x00name"}})
		wantError(t, "PATCH control characters", resp, http.StatusBadRequest, "invalid_name")
		resp = s.do(t, request{Method: "PATCH", Path: base, Token: s.Token, Body: map[string]any{"name": "x", "owner": "evil"}})
		wantError(t, "PATCH unknown field", resp, http.StatusBadRequest, "invalid_json")
	})

	t.Run("UI state", func(t *testing.T) {
		resp := s.call(t, request{Method: "GET", Path: base + "/state", Token: s.Token}, http.StatusOK, nil)
		if string(resp.Body) != "null" {
			t.Errorf("initial state = %s, want null", resp.Body)
		}
		s.call(t, request{Method: "PUT", Path: base + "/state", Token: s.Token, Body: map[string]any{"tabs": []string{"a.txt"}}}, http.StatusNoContent, nil)
		resp = s.call(t, request{Method: "GET", Path: base + "/state", Token: s.Token}, http.StatusOK, nil)
		if !jsonEqual(t, resp.Body, []byte(`{"tabs":["a.txt"]}`)) {
			t.Errorf("state = %s", resp.Body)
		}
		resp = s.do(t, request{Method: "PUT", Path: base + "/state", Token: s.Token, Body: []byte("{not json"), Header: map[string]string{"Content-Type": "application/json"}})
		wantError(t, "PUT invalid state", resp, http.StatusBadRequest, "invalid_json")
	})

	t.Run("suspend and resume", func(t *testing.T) {
		var w workspaceJSON
		s.call(t, request{Method: "POST", Path: base + "/suspend", Token: s.Token}, http.StatusOK, &w)
		if w.State != "suspended" || get(t).State != "suspended" {
			t.Errorf("after suspend: %+v, want suspended", w)
		}
		// Using the files resumes it.
		if body, _ := s.getFile(t, s.Token, ws.ID, "a.txt"); body != "a" {
			t.Errorf("a.txt = %q", body)
		}
		if st := get(t).State; st != "active" {
			t.Errorf("after reading a file: state %q, want active", st)
		}
		s.call(t, request{Method: "POST", Path: base + "/suspend", Token: s.Token}, http.StatusOK, nil)
		s.call(t, request{Method: "POST", Path: base + "/resume", Token: s.Token}, http.StatusOK, &w)
		if w.State != "active" {
			t.Errorf("after resume: %+v, want active", w)
		}
	})

	t.Run("delete ends watch", func(t *testing.T) {
		conn, _, err := s.dialWS(base+"/watch", bearer(s.Token))
		if err != nil {
			t.Fatalf("dial watch: %v", err)
		}
		w := newWatcher(t, conn)
		w.sync(t, s, s.Token, ws.ID)
		s.call(t, request{Method: "DELETE", Path: base, Token: s.Token}, http.StatusNoContent, nil)
		for range w.events {
		}
		select {
		case err := <-w.err:
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				t.Errorf("watch of a deleted workspace ended with %v, want a close frame", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("watch still open 5s after the workspace was deleted")
		}
		wantError(t, "GET deleted workspace", s.do(t, request{Method: "GET", Path: base, Token: s.Token}), http.StatusNotFound, "not_found")
		wantError(t, "GET file of deleted workspace", s.do(t, request{Method: "GET", Path: filesPath(ws.ID, "a.txt"), Token: s.Token}), http.StatusNotFound, "not_found")
		if list := s.listWorkspaces(t, s.Token); len(list) != 0 {
			t.Errorf("workspaces after delete = %+v", list)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"unknown template", map[string]any{"name": "x", "template": "nope"}, http.StatusBadRequest, "unknown_template"},
			{"file path escapes", map[string]any{"name": "x", "files": map[string]string{"../x": "y"}}, http.StatusBadRequest, "invalid_path"},
			{"not JSON", []byte("name=x"), http.StatusBadRequest, "invalid_json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := s.do(t, request{Method: "POST", Path: "/api/v1/workspaces", Token: s.Token, Body: tc.body,
					Header: map[string]string{"Content-Type": "application/json"}})
				wantError(t, tc.name, resp, tc.status, tc.code)
			})
		}
		resp := s.do(t, request{Method: "POST", Path: "/api/v1/workspaces", Token: s.Token, Body: []byte(`{"name":"x"}`),
			Header: map[string]string{"Content-Type": "text/plain"}})
		wantError(t, "wrong content type", resp, http.StatusUnsupportedMediaType, "unsupported_media_type")
		if list := s.listWorkspaces(t, s.Token); len(list) != 0 {
			t.Errorf("refused creates left workspaces: %+v", list)
		}
	})
}
