package sandbox_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

// Output keeps the first Max bytes and reports every write whole, also
// with two writers at once; LastLines keeps the tail without its padding.
func TestOutput(t *testing.T) {
	o := &sandbox.Output{Max: 10}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 100 {
				if n, err := o.Write([]byte("abc")); n != 3 || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	if got := o.String(); got != "abcabcabca" || string(o.Bytes()) != got {
		t.Errorf("kept %q (%q), want the first 10 bytes", got, o.Bytes())
	}
	if got := sandbox.LastLines("\n a\nb\nc\nd\n\n", 2); got != "c\nd" {
		t.Errorf("LastLines = %q", got)
	}
	if got := sandbox.LastLines("one", 5); got != "one" || strings.Contains(sandbox.LastLines("", 3), "\n") {
		t.Errorf("LastLines of a short text = %q", got)
	}
}
