package playground

import (
	"encoding/base32"
	"strings"
	"testing"
)

// TestShareIDEntropy is AUTH-13: a private share's id carries at least 128
// random bits. Length proves nothing (a padded or hashed id can be long),
// so the test decodes 1000 ids and checks that they are all distinct and
// that each of their 130 bit positions varies: every position is set in
// roughly half of the ids (between 350 and 650 of 1000; for a fair random
// bit, falling outside is a more than 9-sigma event). An id with fewer
// random bits, a counter, a timestamp or a content hash of the (here
// absent) content fails.
func TestShareIDEntropy(t *testing.T) {
	t.Parallel()
	const n, bits = 1000, 130
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	seen := make(map[string]bool, n)
	var ones [bits]int
	for range n {
		id := newShareID()
		if len(id) != 26 || strings.ToLower(id) != id {
			t.Fatalf("share id %q: want 26 lowercase base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("share id %q issued twice", id)
		}
		seen[id] = true
		// 26 characters hold 130 bits; pad to 32 characters (160 bits) to decode.
		raw, err := enc.DecodeString(strings.ToUpper(id) + "AAAAAA")
		if err != nil {
			t.Fatalf("share id %q is not base32: %v", id, err)
		}
		for i := range bits {
			if raw[i/8]&(0x80>>(i%8)) != 0 {
				ones[i]++
			}
		}
	}
	random := 0
	for i, c := range ones {
		if c < 350 || c > 650 {
			t.Errorf("bit %d of the share id is set in %d of %d ids: not random", i, c, n)
			continue
		}
		random++
	}
	if random < 128 {
		t.Errorf("share ids carry %d random bits, want at least 128", random)
	}
}
