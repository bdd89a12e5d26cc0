package playground

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ideserver/ideserver/store"
	"github.com/ideserver/ideserver/workspace"
)

// ErrNoWorkspaces is returned by the share methods when Options.Workspaces
// is nil.
var ErrNoWorkspaces = errors.New("playground: workspace shares are not configured")

// ShareRequest is POST /api/v1/workspaces/{ws}/shares.
type ShareRequest struct {
	Access    string `json:"access"`     // "view" (default) or "fork"
	ExpiresIn string `json:"expires_in"` // a Go duration; "" never expires
}

// Skipped is a file a snapshot left out, with the reason.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// CreateShare snapshots owner's workspace workspaceID (its regular text files;
// binary, oversized and special files and .git are skipped and listed) and
// stores it under a new random id of 130 bits. The snapshot is immutable.
func (s *Service) CreateShare(ctx context.Context, owner workspace.Owner, workspaceID string, req ShareRequest) (store.Share, []Skipped, error) {
	if s.opts.Workspaces == nil {
		return store.Share{}, nil, ErrNoWorkspaces
	}
	access := req.Access
	if access == "" {
		access = "view"
	}
	if access != "view" && access != "fork" {
		return store.Share{}, nil, fmt.Errorf("%w: access must be \"view\" or \"fork\"", ErrInvalid)
	}
	now := s.opts.Now().UTC()
	var expires time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > 100*365*24*time.Hour {
			return store.Share{}, nil, fmt.Errorf("%w: expires_in must be a positive Go duration such as \"168h\"", ErrInvalid)
		}
		expires = now.Add(d)
	}
	ws, err := s.opts.Workspaces.Get(owner, workspaceID)
	if err != nil {
		return store.Share{}, nil, err
	}
	files := make(map[string]string)
	var skipped []Skipped
	var total int64
	err = s.opts.Workspaces.WithFiles(owner, workspaceID, func(f *workspace.Files) error {
		var walk func(dir string) error
		walk = func(dir string) error {
			entries, err := f.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := ctx.Err(); err != nil {
					return err
				}
				rel := path.Join(dir, e.Name)
				switch {
				case e.Type == workspace.TypeDir && e.Name == ".git":
					skipped = append(skipped, Skipped{rel, "version control data is not shared"})
				case e.Type == workspace.TypeDir:
					if err := walk(rel); err != nil {
						return err
					}
				case e.Type != workspace.TypeFile:
					skipped = append(skipped, Skipped{rel, "not a regular file"})
				default:
					if len(files) >= s.opts.MaxShareFiles {
						return fmt.Errorf("%w: the workspace has more than %d files", ErrTooLarge, s.opts.MaxShareFiles)
					}
					if total+e.Size > s.opts.MaxShareSize {
						return fmt.Errorf("%w: the workspace's files exceed %d bytes", ErrTooLarge, s.opts.MaxShareSize)
					}
					data, _, err := f.ReadFile(rel)
					if err != nil {
						skipped = append(skipped, Skipped{rel, "could not be read"})
						continue
					}
					if !utf8.Valid(data) || strings.IndexByte(string(data), 0) >= 0 {
						skipped = append(skipped, Skipped{rel, "binary file"})
						continue
					}
					total += int64(len(data))
					if total > s.opts.MaxShareSize {
						return fmt.Errorf("%w: the workspace's files exceed %d bytes", ErrTooLarge, s.opts.MaxShareSize)
					}
					files[rel] = string(data)
				}
			}
			return nil
		}
		return walk("")
	})
	if err != nil {
		return store.Share{}, nil, err
	}
	sh := store.Share{
		ID: newShareID(), TenantID: owner.Tenant, UserID: owner.User, WorkspaceID: workspaceID,
		Name: ws.Name, Access: access, Files: files, CreatedAt: now, ExpiresAt: expires,
	}
	if err := s.opts.Store.CreateShare(sh); err != nil {
		return store.Share{}, nil, fmt.Errorf("store share: %w", err)
	}
	return sh, skipped, nil
}

// ListShares returns the unexpired shares of owner's workspace workspaceID,
// without files.
func (s *Service) ListShares(owner workspace.Owner, workspaceID string) ([]store.Share, error) {
	if s.opts.Workspaces == nil {
		return nil, ErrNoWorkspaces
	}
	if _, err := s.opts.Workspaces.Get(owner, workspaceID); err != nil {
		return nil, err
	}
	return s.opts.Store.ListShares(workspaceID)
}

// GetShare returns an unexpired share with its files, or ErrNotFound.
func (s *Service) GetShare(id string) (store.Share, error) {
	sh, err := s.opts.Store.GetShare(id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Share{}, ErrNotFound
	}
	return sh, err
}

// DeleteShare revokes owner's share id at once. Another owner's share is
// ErrNotFound.
func (s *Service) DeleteShare(owner workspace.Owner, id string) error {
	err := s.opts.Store.DeleteShare(id, owner.Tenant, owner.User)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// ForkShare creates a workspace for owner holding the share's snapshot.
func (s *Service) ForkShare(ctx context.Context, owner workspace.Owner, id string) (store.Workspace, error) {
	if s.opts.Workspaces == nil {
		return store.Workspace{}, ErrNoWorkspaces
	}
	sh, err := s.GetShare(id)
	if err != nil {
		return store.Workspace{}, err
	}
	name := sh.Name
	if name == "" {
		name = "fork"
	}
	return s.opts.Workspaces.Create(ctx, owner, workspace.CreateOptions{Name: name, Files: sh.Files})
}

// newShareID returns 130 random bits as 26 lowercase base32 characters.
func newShareID() string {
	var b [17]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:26]
}
