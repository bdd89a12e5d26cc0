package auth

import "strings"

// Accessors only the tests use.

// Alg returns the one algorithm the verifier accepts: "HS256", "RS256" or
// "ES256".
func (v *JWTVerifier) Alg() string { return v.alg }

// Hosts returns the configured allowed hosts, normalised ("host" or
// "host:port"). The caller owns the returned slice.
func (p *OriginPolicy) Hosts() []string {
	out := make([]string, 0, len(p.hosts))
	for _, h := range p.hosts {
		out = append(out, h.String())
	}
	return out
}

// HasSecretShape reports whether s looks like a secret made by
// NewSecret(prefix): the prefix, "_" and 43 base64url characters. It says
// nothing about whether the secret is valid.
func HasSecretShape(s, prefix string) bool {
	body, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || !validPrefix(prefix) || len(body) != secretBodyLen {
		return false
	}
	return isBase64URL(body)
}

// Len returns the number of tickets held, expired ones not yet pruned
// included.
func (t *Tickets) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byHash)
}
