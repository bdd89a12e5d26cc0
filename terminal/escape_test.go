package terminal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/terminal"
)

// TestEscapeSequencesPassThrough (TTY-05): escape sequences in a
// program's output (terminal queries that make a terminal answer on its
// input: DA, DSR, DECRQM, DECRQSS, XTWINOPS; OSC 52 clipboard, OSC 8
// link, title) reach the client byte for byte, and the server answers
// none of them: nothing arrives on the program's input. Interpreting them
// is the browser terminal's job (xterm.js, pinned in web/package.json).
// The probe after the queries is `cat -v`, which would print an injected
// answer's ESC as "^[".
func TestEscapeSequencesPassThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	queries := "\x1b[c\x1b[>c\x1b[5n\x1b[6n\x1b[?1$p\x1bP$q\"p\x1b\\\x1b[21t" +
		"\x1b]52;c;?\x07\x1b]52;c;ZWNobyBwd25lZAo=\x07\x1b]8;;https://example.com/\x07link\x1b]8;;\x07\x1b]0;title\x07"
	if err := os.WriteFile(filepath.Join(e.dir, "q.bin"), []byte(queries), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.create(t, terminal.CreateOptions{})
	c := e.attach(t, s, false)
	c.send("stty -echo -icanon; cat q.bin; echo; echo probe-$((1+1)); timeout 2 cat -v; echo; echo end-$((2+2))\n")
	c.expect(t, "end-4")
	out := c.output()
	i := strings.Index(out, queries)
	if i < 0 {
		t.Fatalf("the sequences did not reach the client unchanged: %q", out)
	}
	probe := out[i+len(queries):]
	probe = probe[strings.Index(probe, "probe-2"):]
	if end := strings.Index(probe, "end-4"); end >= 0 {
		probe = probe[:end]
	}
	if strings.Contains(probe, "^[") || strings.Contains(probe, "\x1b") {
		t.Errorf("something answered the queries on the program's input: %q", probe)
	}
}
