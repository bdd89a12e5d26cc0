package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesWhenProbeFails is RUN-08: the start-up self-test probes
// the sandbox from inside, and a failed probe stops the server from
// serving. The bubblewrap used here is a wrapper around the real one that
// adds a bind of the data directory after the server's own options, as a
// broken or tampered sandbox set-up would; the hidden-paths probe sees the
// data directory, and the server refuses to start with isolation.mode
// bwrap, and with auto in a multi-tenant deployment, naming the failed
// check. A control run through the same wrapper without the extra bind
// starts, so the refusal comes from the probe, not from the wrapper.
func TestServeRefusesWhenProbeFails(t *testing.T) {
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("no /bin/bash for the wrapper")
	}
	// The wrapper runs as a tenant uid: it must be reachable by anyone.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := func(name, leak string) string {
		extra := ""
		if leak != "" {
			extra = `--ro-bind '` + leak + `' '` + leak + `'`
		}
		p := filepath.Join(dir, name)
		script := `#!/bin/bash
# Inserts extra options before the first "--" (after --args FD, if used).
args=(); done=0
for a in "$@"; do
	if [ $done = 0 ] && [ "$a" = "--" ]; then args+=(` + extra + `); done=1; fi
	args+=("$a")
done
exec /usr/bin/bwrap "${args[@]}"
`
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("control", func(t *testing.T) {
		data := searchableDataDir(t)
		s, err := startServe(t, data, nil, append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "bwrap", "IDESERVER_ISOLATION_BWRAP_PATH", wrapper("bwrap-plain", ""))...)
		if err != nil {
			t.Fatalf("serve through the plain wrapper refused: %v", err)
		}
		if err := s.stop(); err != nil {
			t.Fatalf("serve: %v", err)
		}
	})
	secret := writeFile(t, t.TempDir(), "secret", strings.Repeat("k", 40))
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"bwrap", []string{"IDESERVER_ISOLATION_MODE", "bwrap"}},
		{"auto multi-tenant", []string{"IDESERVER_ISOLATION_MODE", "auto", "IDESERVER_AUTH_JWT_HMAC_SECRET_FILE", secret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := searchableDataDir(t)
			env := append(append(fakeTools(t), tc.env...), "IDESERVER_ISOLATION_BWRAP_PATH", wrapper("bwrap-leak-"+strings.ReplaceAll(tc.name, " ", "-"), data))
			s, err := startServe(t, data, nil, env...)
			if err == nil {
				_ = s.stop()
				t.Fatal("serve started although the hidden-paths probe saw the data directory")
			}
			if !errors.Is(err, errNoIsolation) || !strings.Contains(err.Error(), "hidden-paths") {
				t.Errorf("serve = %v, want a refusal naming the hidden-paths check", err)
			}
		})
	}
}
