package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ideserver/ideserver/auth"
)

var (
	testNow    = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	hmacSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
)

// testKeys are generated once per test binary: RSA 2048 is slow under -race.
var testKeys = sync.OnceValue(func() (k struct {
	rsa, rsa2 *rsa.PrivateKey
	ec, ec2   *ecdsa.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func pemPublic(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

// goodClaims are valid at testNow for a verifier with audience "ideserver"
// and issuer "https://portal.example".
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"tenant": "acme",
		"sub":    "alice",
		"exp":    testNow.Add(time.Hour).Unix(),
		"iat":    testNow.Add(-time.Minute).Unix(),
		"nbf":    testNow.Add(-time.Minute).Unix(),
		"aud":    []string{"other", "ideserver"},
		"iss":    "https://portal.example",
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

func newVerifier(t testing.TB, o auth.JWTOptions) *auth.JWTVerifier {
	t.Helper()
	o.Audience = "ideserver"
	o.Issuer = "https://portal.example"
	o.Now = func() time.Time { return testNow }
	v, err := auth.NewJWTVerifier(o)
	if err != nil {
		t.Fatalf("NewJWTVerifier: %v", err)
	}
	return v
}

// unsigned crafts an "alg":"none" token by hand.
func unsigned(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "."
}

func TestVerifyValid(t *testing.T) {
	t.Parallel()
	k := testKeys()
	tests := []struct {
		name  string
		opts  auth.JWTOptions
		alg   string
		token string
	}{
		{"HS256", auth.JWTOptions{HMACSecret: hmacSecret}, "HS256", sign(t, jwt.SigningMethodHS256, hmacSecret, goodClaims())},
		{"RS256", auth.JWTOptions{PublicKeyPEM: pemPublic(t, &k.rsa.PublicKey)}, "RS256", sign(t, jwt.SigningMethodRS256, k.rsa, goodClaims())},
		{"ES256", auth.JWTOptions{PublicKeyPEM: pemPublic(t, &k.ec.PublicKey)}, "ES256", sign(t, jwt.SigningMethodES256, k.ec, goodClaims())},
		{"aud as string", auth.JWTOptions{HMACSecret: hmacSecret}, "HS256", sign(t, jwt.SigningMethodHS256, hmacSecret, with(goodClaims(), "aud", "ideserver"))},
		{"no nbf no iat", auth.JWTOptions{HMACSecret: hmacSecret}, "HS256", sign(t, jwt.SigningMethodHS256, hmacSecret, with(goodClaims(), "nbf", nil, "iat", nil))},
		{"expired within leeway", auth.JWTOptions{HMACSecret: hmacSecret}, "HS256", sign(t, jwt.SigningMethodHS256, hmacSecret, with(goodClaims(), "exp", testNow.Add(-20*time.Second).Unix()))},
		{"nbf within leeway", auth.JWTOptions{HMACSecret: hmacSecret}, "HS256", sign(t, jwt.SigningMethodHS256, hmacSecret, with(goodClaims(), "nbf", testNow.Add(20*time.Second).Unix()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, tt.opts)
			if v.Alg() != tt.alg {
				t.Errorf("Alg() = %q, want %q", v.Alg(), tt.alg)
			}
			if !auth.LooksLikeJWT(tt.token) {
				t.Errorf("LooksLikeJWT(%q) = false", tt.token)
			}
			c, err := v.Verify(tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Tenant != "acme" || c.User != "alice" {
				t.Errorf("claims = %+v, want tenant acme, user alice", c)
			}
			if c.Expires.IsZero() || !c.Expires.After(testNow.Add(-time.Minute)) {
				t.Errorf("Expires = %v", c.Expires)
			}
		})
	}
}

func TestVerifyRefused(t *testing.T) {
	t.Parallel()
	k := testKeys()
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	hs := auth.JWTOptions{HMACSecret: hmacSecret}
	rs := auth.JWTOptions{PublicKeyPEM: rsaPEM}
	es := auth.JWTOptions{PublicKeyPEM: pemPublic(t, &k.ec.PublicKey)}
	hsSign := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, hmacSecret, c) }
	good := hsSign(goodClaims())
	otherSecret := []byte("another-secret-of-32-bytes-long!!")

	tests := []struct {
		name  string
		opts  auth.JWTOptions
		token string
	}{
		{"expired", hs, hsSign(with(goodClaims(), "exp", testNow.Add(-time.Minute).Unix()))},
		{"missing exp", hs, hsSign(with(goodClaims(), "exp", nil))},
		{"exp not a number", hs, hsSign(with(goodClaims(), "exp", "tomorrow"))},
		{"nbf in future", hs, hsSign(with(goodClaims(), "nbf", testNow.Add(time.Hour).Unix()))},
		{"iat in future", hs, hsSign(with(goodClaims(), "iat", testNow.Add(time.Hour).Unix()))},
		{"wrong aud", hs, hsSign(with(goodClaims(), "aud", "someone-else"))},
		{"missing aud", hs, hsSign(with(goodClaims(), "aud", nil))},
		{"wrong iss", hs, hsSign(with(goodClaims(), "iss", "https://evil.example"))},
		{"missing iss", hs, hsSign(with(goodClaims(), "iss", nil))},
		{"missing tenant", hs, hsSign(with(goodClaims(), "tenant", nil))},
		{"missing sub", hs, hsSign(with(goodClaims(), "sub", nil))},
		{"empty sub", hs, hsSign(with(goodClaims(), "sub", ""))},
		{"tenant uppercase", hs, hsSign(with(goodClaims(), "tenant", "A"))},
		{"tenant traversal", hs, hsSign(with(goodClaims(), "tenant", "../x"))},
		{"tenant 64 chars", hs, hsSign(with(goodClaims(), "tenant", strings.Repeat("a", 64)))},
		{"tenant number", hs, hsSign(with(goodClaims(), "tenant", 42))},
		{"sub uppercase", hs, hsSign(with(goodClaims(), "sub", "A"))},
		{"sub traversal", hs, hsSign(with(goodClaims(), "sub", "../x"))},
		{"sub 64 chars", hs, hsSign(with(goodClaims(), "sub", strings.Repeat("a", 64)))},
		{"alg none", hs, unsigned(`{"alg":"none","typ":"JWT"}`, `{"tenant":"acme","sub":"alice","exp":1999999999,"aud":"ideserver","iss":"https://portal.example"}`)},
		{"alg None", hs, unsigned(`{"alg":"None"}`, `{"tenant":"acme","sub":"alice","exp":1999999999,"aud":"ideserver","iss":"https://portal.example"}`)},
		{"alg none with signature", hs, unsigned(`{"alg":"none"}`, `{"tenant":"acme","sub":"alice","exp":1999999999,"aud":"ideserver","iss":"https://portal.example"}`) + good[strings.LastIndexByte(good, '.')+1:]},
		{"crit header", hs, signWithHeader(t, "crit", []string{"exp"})},
		{"HS384", hs, sign(t, jwt.SigningMethodHS384, hmacSecret, goodClaims())},
		{"HS512", hs, sign(t, jwt.SigningMethodHS512, hmacSecret, goodClaims())},
		{"bad signature", hs, flipSig(good)},
		{"truncated signature", hs, good[:len(good)-4]},
		{"other hmac key", hs, sign(t, jwt.SigningMethodHS256, otherSecret, goodClaims())},
		{"RS256 to hmac verifier", hs, sign(t, jwt.SigningMethodRS256, k.rsa, goodClaims())},
		{"garbage", hs, "garbage"},
		{"empty", hs, ""},
		{"three dots", hs, "..."},
		{"not base64", hs, "a.b.c"},
		{"json array header", hs, unsigned(`[]`, `{}`) + "x"},
		{"huge", hs, strings.Repeat("a", auth.MaxJWTLen+1)},
		{"padded segments", hs, padSegments(good)},
		{"algorithm confusion", rs, sign(t, jwt.SigningMethodHS256, rsaPEM, goodClaims())},
		{"RS256 other key", rs, sign(t, jwt.SigningMethodRS256, k.rsa2, goodClaims())},
		{"RS384 same key", rs, sign(t, jwt.SigningMethodRS384, k.rsa, goodClaims())},
		{"PS256 same key", rs, sign(t, jwt.SigningMethodPS256, k.rsa, goodClaims())},
		{"ES256 to rsa verifier", rs, sign(t, jwt.SigningMethodES256, k.ec, goodClaims())},
		{"ES256 other key", es, sign(t, jwt.SigningMethodES256, k.ec2, goodClaims())},
		{"RS256 to ecdsa verifier", es, sign(t, jwt.SigningMethodRS256, k.rsa, goodClaims())},
		{"ecdsa confusion", es, sign(t, jwt.SigningMethodHS256, pemPublic(t, &k.ec.PublicKey), goodClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, tt.opts)
			c, err := v.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted %q: %+v", tt.token, c)
			}
			t.Logf("%v", err)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
			if c != (auth.Claims{}) {
				t.Errorf("claims on error = %+v, want zero", c)
			}
		})
	}
}

// signWithHeader signs goodClaims with HS256 and an extra header field.
func signWithHeader(t testing.TB, k string, v any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims())
	tok.Header[k] = v
	s, err := tok.SignedString(hmacSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flipSig changes one character in the middle of the signature, keeping
// it valid base64url, so only the signature check can refuse it.
func flipSig(tok string) string {
	i := len(tok) - 10
	repl := byte('A')
	if tok[i] == 'A' {
		repl = 'B'
	}
	return tok[:i] + string(repl) + tok[i+1:]
}

// padSegments re-encodes the header with "=" padding (refused by strict
// decoding and by the JWS spec).
func padSegments(tok string) string {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0] + "==." + parts[1] + "." + parts[2]
}

func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	now := testNow
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{
		"tenant": "acme", "sub": "alice", "exp": now.Unix(),
	})
	tests := []struct {
		name   string
		leeway time.Duration
		at     time.Time
		ok     bool
	}{
		{"default leeway, 29s late", 0, now.Add(29 * time.Second), true},
		{"default leeway, 31s late", 0, now.Add(31 * time.Second), false},
		{"1s leeway, 2s late", time.Second, now.Add(2 * time.Second), false},
		{"5m leeway, 4m late", 5 * time.Minute, now.Add(4 * time.Minute), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := auth.NewJWTVerifier(auth.JWTOptions{HMACSecret: hmacSecret, Leeway: tt.leeway, Now: func() time.Time { return tt.at }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(tok)
			if (err == nil) != tt.ok {
				t.Errorf("Verify err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestNewJWTVerifierErrors(t *testing.T) {
	t.Parallel()
	k := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	tests := []struct {
		name string
		o    auth.JWTOptions
	}{
		{"neither", auth.JWTOptions{}},
		{"both", auth.JWTOptions{HMACSecret: hmacSecret, PublicKeyPEM: rsaPEM}},
		{"short hmac", auth.JWTOptions{HMACSecret: hmacSecret[:31]}},
		{"not pem", auth.JWTOptions{PublicKeyPEM: []byte("not a pem")}},
		{"pkcs1 block", auth.JWTOptions{PublicKeyPEM: pkcs1}},
		{"garbage der", auth.JWTOptions{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("xx")})}},
		{"two blocks", auth.JWTOptions{PublicKeyPEM: append(append([]byte{}, rsaPEM...), rsaPEM...)}},
		{"rsa 1024", auth.JWTOptions{PublicKeyPEM: pemPublic(t, &small.PublicKey)}},
		{"ecdsa P-384", auth.JWTOptions{PublicKeyPEM: pemPublic(t, &p384.PublicKey)}},
		{"ed25519", auth.JWTOptions{PublicKeyPEM: pemPublic(t, edPub)}},
		{"negative leeway", auth.JWTOptions{HMACSecret: hmacSecret, Leeway: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if v, err := auth.NewJWTVerifier(tt.o); err == nil {
				t.Errorf("NewJWTVerifier succeeded (alg %s), want error", v.Alg())
			}
		})
	}
}

func TestVerifierCopiesSecret(t *testing.T) {
	t.Parallel()
	secret := append([]byte(nil), hmacSecret...)
	v, err := auth.NewJWTVerifier(auth.JWTOptions{HMACSecret: secret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, goodClaims())
	secret[0] ^= 0xff // the caller reuses its buffer
	if _, err := v.Verify(tok); err != nil {
		t.Errorf("Verify after caller mutated its secret: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKeys()
	for _, bc := range []struct {
		name string
		opts auth.JWTOptions
		tok  string
	}{
		{"HS256", auth.JWTOptions{HMACSecret: hmacSecret}, sign(b, jwt.SigningMethodHS256, hmacSecret, goodClaims())},
		{"RS256", auth.JWTOptions{PublicKeyPEM: pemPublic(b, &k.rsa.PublicKey)}, sign(b, jwt.SigningMethodRS256, k.rsa, goodClaims())},
		{"ES256", auth.JWTOptions{PublicKeyPEM: pemPublic(b, &k.ec.PublicKey)}, sign(b, jwt.SigningMethodES256, k.ec, goodClaims())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := newVerifier(b, bc.opts)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(bc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
