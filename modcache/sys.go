package modcache

import (
	"crypto/rand"
	"encoding/hex"
	"syscall"
)

// syscallNonblock opens a FIFO without waiting for a writer (copyTemp then
// refuses it as not regular).
const syscallNonblock = syscall.O_NONBLOCK

// randomSuffix returns 16 random hex digits.
func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
