package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is returned (wrapped, with a reason safe to log) by
// JWTVerifier.Verify for every refused token. The server answers a generic
// 401 whatever the reason.
var ErrInvalidToken = errors.New("invalid token")

// minHMACSecret is the shortest HS256 secret accepted: 256 bits.
const minHMACSecret = 32

// minRSABits is the smallest RSA modulus accepted for RS256.
const minRSABits = 2048

// defaultLeeway is the clock skew allowed when JWTOptions.Leeway is 0.
const defaultLeeway = 30 * time.Second

// JWTOptions configures a JWTVerifier for tokens signed by an embedding
// portal. Exactly one of HMACSecret and PublicKeyPEM must be set; the key
// alone decides the one accepted algorithm.
type JWTOptions struct {
	// HMACSecret selects HS256. At least 32 bytes.
	HMACSecret []byte
	// PublicKeyPEM selects RS256 (an RSA key of at least 2048 bits) or ES256
	// (an ECDSA P-256 key): one PEM block of type "PUBLIC KEY" (PKIX).
	PublicKeyPEM []byte
	// Audience, when set, must be one of the token's "aud" values.
	Audience string
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means 30s.
	// Negative is an error.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Claims is what a verified portal JWT says: who the user is and until when
// the token is valid.
type Claims struct {
	Tenant  string    // claim "tenant"; satisfies ValidID
	User    string    // claim "sub"; satisfies ValidID
	Expires time.Time // claim "exp"
}

// JWTVerifier verifies portal JWTs. It is immutable after NewJWTVerifier and
// safe for concurrent use.
type JWTVerifier struct {
	alg    string // "HS256", "RS256" or "ES256"
	key    any    // []byte, *rsa.PublicKey or *ecdsa.PublicKey
	parser *jwt.Parser
}

// NewJWTVerifier checks o and returns a verifier. It fails when neither or
// both of HMACSecret and PublicKeyPEM are set, when the HMAC secret is
// shorter than 32 bytes, when the PEM does not hold exactly one PKIX
// "PUBLIC KEY", when the key is neither RSA (≥ 2048 bits) nor ECDSA P-256,
// and when Leeway is negative.
func NewJWTVerifier(o JWTOptions) (*JWTVerifier, error) {
	v := &JWTVerifier{}
	switch {
	case len(o.HMACSecret) == 0 && len(o.PublicKeyPEM) == 0:
		return nil, errors.New("new jwt verifier: one of an hmac secret and a public key is required")
	case len(o.HMACSecret) > 0 && len(o.PublicKeyPEM) > 0:
		return nil, errors.New("new jwt verifier: set an hmac secret or a public key, not both")
	case len(o.HMACSecret) > 0:
		if len(o.HMACSecret) < minHMACSecret {
			return nil, fmt.Errorf("new jwt verifier: hmac secret is %d bytes, want at least %d", len(o.HMACSecret), minHMACSecret)
		}
		v.alg = jwt.SigningMethodHS256.Alg()
		v.key = append([]byte(nil), o.HMACSecret...)
	default:
		alg, key, err := parsePublicKey(o.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("new jwt verifier: %w", err)
		}
		v.alg, v.key = alg, key
	}
	leeway := o.Leeway
	switch {
	case leeway < 0:
		return nil, fmt.Errorf("new jwt verifier: negative leeway %v", leeway)
	case leeway == 0:
		leeway = defaultLeeway
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{v.alg}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// parsePublicKey decodes one PEM "PUBLIC KEY" block and returns the
// algorithm its key type implies.
func parsePublicKey(data []byte) (alg string, key any, err error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return "", nil, errors.New("public key: no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return "", nil, fmt.Errorf("public key: PEM block is %q, want \"PUBLIC KEY\" (PKIX)", block.Type)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return "", nil, errors.New("public key: unexpected data after the PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return "", nil, fmt.Errorf("public key: %w", err)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", nil, fmt.Errorf("public key: rsa key is %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
		return jwt.SigningMethodRS256.Alg(), k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("public key: ecdsa curve %s unsupported, want P-256", k.Curve.Params().Name)
		}
		return jwt.SigningMethodES256.Alg(), k, nil
	default:
		return "", nil, fmt.Errorf("public key: unsupported key type %T (want RSA or ECDSA P-256)", pub)
	}
}

// portalClaims is the JSON payload of a portal JWT.
type portalClaims struct {
	Tenant string `json:"tenant"`
	jwt.RegisteredClaims
}

// Verify checks a compact JWT and returns its claims. It refuses, with an
// error wrapping ErrInvalidToken: tokens longer than MaxJWTLen; any "alg"
// other than the configured one (so "none", HS384/HS512 on an HS256
// verifier, and HS256 tokens "signed" with an RSA public key — algorithm
// confusion — are refused); a bad signature; a missing or past "exp"; a
// future "nbf" or "iat" (beyond the leeway); "aud"/"iss" mismatches when
// configured; a "crit" header (no extensions are understood);
// "tenant" or "sub" missing or not ValidID; and a "tenant" that is
// Reserved (the error then also wraps ErrReservedID). Error texts are
// safe to log (claim values quoted and truncated) but not meant for
// clients. It does not block and is safe for concurrent use.
func (v *JWTVerifier) Verify(token string) (Claims, error) {
	if len(token) > MaxJWTLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxJWTLen)
	}
	var pc portalClaims
	_, err := v.parser.ParseWithClaims(token, &pc, v.keyFunc)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	switch {
	case pc.Tenant == "":
		return Claims{}, fmt.Errorf("%w: claim tenant missing", ErrInvalidToken)
	case !ValidID(pc.Tenant):
		return Claims{}, fmt.Errorf("%w: claim tenant %s is not a valid id", ErrInvalidToken, quoteShort(pc.Tenant))
	case Reserved(pc.Tenant):
		// SBX-04: a portal cannot sign users into an internal identity.
		return Claims{}, fmt.Errorf("%w: %w: claim tenant %s is reserved", ErrInvalidToken, ErrReservedID, quoteShort(pc.Tenant))
	case pc.Subject == "":
		return Claims{}, fmt.Errorf("%w: claim sub missing", ErrInvalidToken)
	case !ValidID(pc.Subject):
		return Claims{}, fmt.Errorf("%w: claim sub %s is not a valid id", ErrInvalidToken, quoteShort(pc.Subject))
	case pc.ExpiresAt == nil: // WithExpirationRequired already refuses this
		return Claims{}, fmt.Errorf("%w: claim exp missing", ErrInvalidToken)
	}
	return Claims{Tenant: pc.Tenant, User: pc.Subject, Expires: pc.ExpiresAt.Time}, nil
}

// keyFunc hands the parser the configured key after checking the token's
// algorithm once more (the parser's WithValidMethods already did).
func (v *JWTVerifier) keyFunc(t *jwt.Token) (any, error) {
	if t.Method == nil || t.Method.Alg() != v.alg {
		return nil, errors.New("unexpected signing method")
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions we do not understand must be refused.
		return nil, errors.New("unsupported critical header")
	}
	return v.key, nil
}

// quoteShort quotes s for a log line, truncated to 64 bytes.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
