package server

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ideserver/ideserver/store"
)

// credKind says how an open WebSocket re-checks the credential that
// authenticated it (AUTH-03 in docs/security.md).
type credKind int

const (
	credNone  credKind = iota // nothing to re-check (anonymous, or unknown)
	credToken                 // API token: still in the store
	credLogin                 // login cookie: still in the store
	credJWT                   // portal JWT: not past its exp, and the user still exists
	credUser                  // ticket of unknown origin: the user still exists
)

// credential is what authenticated a request, kept so that a long-lived
// WebSocket can notice its revocation, and so that a login records what
// it was made from (SBX-06). It is comparable and holds only a hash, never
// the secret.
type credential struct {
	kind    credKind
	hash    string    // SHA-256 of the token or login cookie secret
	tokenID string    // credToken: the token's id (in tenant)
	expires time.Time // credJWT: the claim exp; credToken: the token's expiry (zero: none)
	tenant  string    // credJWT, credUser
	user    string    // credJWT, credUser
}

// errCredentialRevoked reports that a socket's credential no longer holds.
var errCredentialRevoked = errors.New("credential revoked")

// checkCredential reports whether cred still holds at now. It costs at most
// one store read. A revoked, deleted or expired credential is
// errCredentialRevoked; any other error is a store failure, after which
// the caller should retry rather than decide.
func (s *Server) checkCredential(cred credential, now time.Time) error {
	var err error
	switch cred.kind {
	case credNone:
		return nil
	case credJWT:
		if !cred.expires.IsZero() && !now.Before(cred.expires) {
			return errCredentialRevoked
		}
		// A deleted user's sockets end, even those opened with a JWT
		// that has not expired yet.
		_, err = s.opts.Store.GetUser(cred.tenant, cred.user)
	case credToken:
		_, err = s.opts.Store.TokenByHash([]byte(cred.hash))
	case credLogin:
		// Also ends when the login's token is revoked or expires, or
		// its user is deleted (the store deletes or refuses it then).
		_, err = s.opts.Store.LoginByHash([]byte(cred.hash))
	case credUser:
		_, err = s.opts.Store.GetUser(cred.tenant, cred.user)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errCredentialRevoked
	case err != nil:
		return fmt.Errorf("check credential: %w", err)
	}
	return nil
}

// ticketCreds remembers which credential issued each live WebSocket
// ticket, so a socket opened with the ticket is closed when that
// credential is revoked. Entries leave when redeemed or once expired;
// safe for concurrent use.
type ticketCreds struct {
	mu        sync.Mutex
	m         map[string]ticketCred // by ticket hash
	nextSweep time.Time             // when add next drops expired entries
}

type ticketCred struct {
	cred    credential
	expires time.Time
}

func newTicketCreds() *ticketCreds {
	return &ticketCreds{m: make(map[string]ticketCred)}
}

// add records cred for the ticket with hash until expires, and drops
// entries that expired by now (at most once a minute, so the cost of
// add stays small).
func (t *ticketCreds) add(hash string, cred credential, expires, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !now.Before(t.nextSweep) {
		for h, e := range t.m {
			if !now.Before(e.expires) {
				delete(t.m, h)
			}
		}
		t.nextSweep = now.Add(time.Minute)
	}
	t.m[hash] = ticketCred{cred, expires}
}

// take returns and forgets the credential recorded for the ticket hash.
func (t *ticketCreds) take(hash string) (credential, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[hash]
	delete(t.m, hash)
	return e.cred, ok
}
