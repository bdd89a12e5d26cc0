package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidID is returned (wrapped) when a tenant or user id does not
// satisfy ValidID.
var ErrInvalidID = errors.New("invalid id")

// Secret prefixes in use. A secret's prefix says what it is, so that a
// credential pasted in the wrong place is recognisable in logs and by
// secret scanners, and so that one kind can never be redeemed as another
// (each kind lives in its own store).
const (
	PrefixAPIToken = "ide" // opaque API tokens
	PrefixLogin    = "ses" // browser login cookies
	PrefixTicket   = "tkt" // single-use WebSocket tickets
)

// secretRandomBytes is the entropy of a secret: 256 bits.
const secretRandomBytes = 32

// secretBodyLen is the length of the unpadded base64url encoding of
// secretRandomBytes: ceil(32*8/6).
const secretBodyLen = 43

// ValidID reports whether s is a valid tenant or user id:
// [a-z0-9][a-z0-9-]{0,62}. Such ids are safe in URLs, file names, bbolt key
// prefixes (no separator characters) and Kubernetes labels.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return false
		}
	}
	return true
}

// validPrefix reports whether p is usable as a secret prefix: 1 to 16
// lowercase ASCII letters.
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 16 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 'a' || p[i] > 'z' {
			return false
		}
	}
	return true
}

// NewSecret returns a new random credential "<prefix>_<body>", where body is
// the unpadded base64url encoding (43 characters) of 32 bytes from
// crypto/rand, and the SHA-256 hash of the whole credential, which is what
// callers store (never the secret itself). prefix must be 1 to 16 lowercase
// ASCII letters; the prefixes in use are PrefixAPIToken ("ide"),
// PrefixLogin ("ses") and PrefixTicket ("tkt"). The only error is an
// invalid prefix. Safe for concurrent use.
func NewSecret(prefix string) (secret string, hash []byte, err error) {
	if !validPrefix(prefix) {
		return "", nil, fmt.Errorf("new secret: invalid prefix %q", prefix)
	}
	b := make([]byte, secretRandomBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	secret = prefix + "_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret), nil
}

// HashSecret returns the SHA-256 of a presented secret, for lookup by hash.
// It accepts any string (also ones not made by NewSecret, such as a token
// fixed with --token), so a store keyed by hash never compares secrets
// byte by byte.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// isBase64URL reports whether every byte of s is in the base64url alphabet
// (no padding).
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// IDLen is the length of an identifier returned by NewID.
const IDLen = 26

// NewID returns a new unguessable identifier of IDLen (26) characters from
// the alphabet [a-z2-7]: 128 bits from crypto/rand in lowercase unpadded
// base32. It is safe in URLs, file names, bbolt keys and Kubernetes label
// values, and is used for workspace, terminal, share and token ids. Safe
// for concurrent use.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return idEncoding.EncodeToString(b)
}

// idEncoding is lowercase RFC 4648 base32 without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// MaxJWTLen bounds the length of a bearer JWT that LooksLikeJWT and
// JWTVerifier.Verify accept, so a huge header cannot make the server decode
// megabytes of base64 and JSON.
const MaxJWTLen = 8 << 10

// LooksLikeJWT reports whether a bearer credential has the shape of a
// compact JWS: three dot-separated base64url segments, the first two
// non-empty, at most MaxJWTLen bytes in all. The server uses it to pick a
// verifier (JWT or opaque token lookup); it checks nothing cryptographic.
// Secrets made by NewSecret never contain a dot, so never look like a JWT.
func LooksLikeJWT(s string) bool {
	if len(s) > MaxJWTLen {
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		if !isBase64URL(p) {
			return false
		}
	}
	return true
}
