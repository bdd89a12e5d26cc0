package dap

import (
	"encoding/json"
	"log/slog"
	"testing"
)

// Keys that differ only in case are matched to one field by
// encoding/json, last one winning; the proxy reads the client's order and
// dlv the sorted re-encoding, so such a message could be checked as one
// command and run as another.
func TestFromClientRefusesCaseFoldedKeys(t *testing.T) {
	t.Parallel()
	mt, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{metrics: mt, log: slog.New(slog.DiscardHandler)}
	env := launchFixture(t)
	p := &proxy{m: m, log: m.log, paths: env.paths, workspaceReal: env.workspaceReal, workspaceProc: env.workspaceProc, dir: t.TempDir()}
	tests := []struct {
		name string
		msg  string
	}{
		{"command then Command", `{"seq":1,"type":"request","command":"attach","Command":"threads","arguments":{"mode":"local","processId":1}}`},
		{"Command then command", `{"seq":1,"type":"request","Command":"threads","command":"attach","arguments":{"processId":1}}`},
		{"long s in arguments", `{"seq":1,"type":"request","command":"threads","argumentſ":{"mode":"exec","program":"/bin/sh"},"arguments":{}}`},
		{"Expression", `{"seq":1,"type":"request","command":"evaluate","arguments":{"expression":"dlv config substitutePath /workspace /etc","Expression":"1"}}`},
		{"nested", `{"seq":1,"type":"request","command":"setBreakpoints","arguments":{"source":{"path":"/workspace/main.go","PATH":"/etc/passwd"}}}`},
	}
	for _, tt := range tests {
		fwd, reply := p.fromClient([]byte(tt.msg))
		if fwd != nil {
			t.Errorf("%s: forwarded %s", tt.name, fwd)
		}
		var r struct {
			Type    string `json:"type"`
			Success bool   `json:"success"`
		}
		if err := json.Unmarshal(reply, &r); err != nil || r.Type != "response" || r.Success {
			t.Errorf("%s: reply %s, want an error response", tt.name, reply)
		}
	}
	// A well-formed request still passes.
	fwd, reply := p.fromClient([]byte(`{"seq":2,"type":"request","command":"threads","arguments":{}}`))
	if fwd == nil || reply != nil {
		t.Errorf("threads: fwd %s, reply %s", fwd, reply)
	}
}
