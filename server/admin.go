package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ideserver/ideserver/auth"
	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

type createTokenRequest struct {
	User  string `json:"user"`
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}

// tokenJSON is a token as the admin API shows it; Token (the secret) is
// set only in the answer that creates it.
type tokenJSON struct {
	ID        string     `json:"id"`
	Token     string     `json:"token,omitempty"`
	Tenant    string     `json:"tenant"`
	User      string     `json:"user"`
	Name      string     `json:"name,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func toTokenJSON(t store.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, Tenant: t.TenantID, User: t.UserID, Name: t.Name, CreatedAt: t.CreatedAt.UTC()}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt.UTC()
		out.ExpiresAt = &e
	}
	return out
}

// IssueToken creates the tenant and user when missing and a new API token
// for them. When secret is empty a random one is made; a given secret (the
// --token flag) must be at least 16 bytes. It returns the token record and
// the secret, which is shown once and never stored. The CLI, the start-up
// token and the admin API all use it. A reserved tenant id (auth.Reserved)
// is refused with 400 reserved_id (SBX-04).
func IssueToken(db *store.DB, tenant, user, name, secret string) (store.Token, string, error) {
	if !auth.ValidID(tenant) || !auth.ValidID(user) {
		return store.Token{}, "", errorf(http.StatusBadRequest, "invalid_id", "Tenant and user ids are 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit.")
	}
	if auth.Reserved(tenant) {
		return store.Token{}, "", errorf(http.StatusBadRequest, "reserved_id", "The tenant id %q is reserved for the server's own use; choose another.", tenant)
	}
	if _, err := db.EnsureUser(tenant, user); err != nil {
		return store.Token{}, "", fmt.Errorf("ensure user: %w", err)
	}
	hash := auth.HashSecret(secret)
	switch {
	case secret == "":
		var err error
		if secret, hash, err = auth.NewSecret(auth.PrefixAPIToken); err != nil {
			return store.Token{}, "", fmt.Errorf("new token: %w", err)
		}
	case len(secret) < 16:
		return store.Token{}, "", errors.New("a fixed token needs at least 16 characters")
	}
	t := store.Token{
		ID:        "tok_" + auth.NewID(),
		TenantID:  tenant,
		UserID:    user,
		Name:      name,
		Hash:      hash,
		CreatedAt: time.Now().UTC(),
	}
	if err := db.CreateToken(t); err != nil {
		return store.Token{}, "", fmt.Errorf("store token: %w", err)
	}
	return t, secret, nil
}

func (s *Server) handleAdminCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	t, secret, err := IssueToken(s.opts.Store, tenant, req.User, req.Name, "")
	if err != nil {
		return err
	}
	if req.Admin {
		if err := s.opts.Store.SetUserAdmin(tenant, req.User, true); err != nil {
			return fmt.Errorf("set admin: %w", err)
		}
	}
	out := toTokenJSON(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleAdminListTokens(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	if !auth.ValidID(tenant) {
		return errNotFound
	}
	list, err := s.opts.Store.ListTokens(tenant)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, toTokenJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string][]tokenJSON{"tokens": out})
	return nil
}

func (s *Server) handleAdminRevokeToken(w http.ResponseWriter, r *http.Request) error {
	err := s.opts.Store.RevokeToken(r.PathValue("tenant"), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminDeleteUser removes a user: first the user record with every
// token and login of theirs (one store transaction, so no credential of
// theirs works afterwards and their open WebSockets close at the next
// credential check, SBX-06), then their workspaces with their processes
// and files, then their HOME. Calling it again finishes a removal that failed half-way; it
// is 404 only when there is neither a user nor a workspace left.
func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request) error {
	tenant, user := r.PathValue("tenant"), r.PathValue("user")
	if !auth.ValidID(tenant) || !auth.ValidID(user) {
		return errNotFound
	}
	err := s.opts.Store.DeleteUser(tenant, user)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete user: %w", err)
	}
	owner := workspace.Owner{Tenant: tenant, User: user}
	list, err := s.opts.Workspaces.List(owner)
	if err != nil {
		return err
	}
	for _, ws := range list {
		if err := s.opts.Workspaces.Delete(r.Context(), owner, ws.ID); err != nil && !errors.Is(err, workspace.ErrNotFound) {
			return fmt.Errorf("delete workspace of removed user: %w", err)
		}
		found = true
	}
	if !found {
		return errNotFound
	}
	if err := s.opts.Workspaces.RemoveHome(owner); err != nil {
		return fmt.Errorf("delete home of removed user: %w", err)
	}
	s.log(r).Info("user deleted", "tenant_id", tenant, "user_id", user, "workspaces", len(list))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
