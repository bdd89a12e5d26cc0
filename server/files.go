package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ideserver/ideserver/workspace"
)

// filesOf runs fn with rooted access to the request's workspace.
func (s *Server) filesOf(r *http.Request, fn func(f *workspace.Files) error) error {
	return s.opts.Workspaces.WithFiles(owner(r), r.PathValue("ws"), fn)
}

// handleGetFile answers a file's bytes with its ETag, or a directory's
// listing.
func (s *Server) handleGetFile(w http.ResponseWriter, r *http.Request) error {
	// A directory may be asked for with a trailing slash, as browsers and
	// shells like to.
	rel, err := workspace.CleanPath(strings.TrimSuffix(r.PathValue("path"), "/"))
	if err != nil {
		return err
	}
	return s.filesOf(r, func(f *workspace.Files) error {
		if rel != "" {
			data, etag, err := f.ReadFile(rel)
			if err == nil {
				w.Header().Set("ETag", etag)
				if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
					w.WriteHeader(http.StatusNotModified)
					return nil
				}
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				w.WriteHeader(http.StatusOK)
				if r.Method != http.MethodHead {
					_, _ = w.Write(data)
				}
				return nil
			}
			if !isDirErr(err) {
				return err
			}
		}
		entries, err := f.ReadDir(rel)
		if err != nil {
			return err
		}
		if entries == nil {
			entries = []workspace.Entry{}
		}
		writeJSON(w, http.StatusOK, map[string][]workspace.Entry{"entries": entries})
		return nil
	})
}

func isDirErr(err error) bool {
	return errors.Is(err, workspace.ErrIsDir)
}

type etagResponse struct {
	ETag string `json:"etag"`
}

// handlePutFile replaces a file atomically, honouring If-Match.
func (s *Server) handlePutFile(w http.ResponseWriter, r *http.Request) error {
	rel, err := workspace.CleanPath(r.PathValue("path"))
	if err != nil {
		return err
	}
	if rel == "" {
		return errorf(http.StatusBadRequest, "invalid_path", "Name the file to write after /files/.")
	}
	return s.filesOf(r, func(f *workspace.Files) error {
		etag, err := f.WriteFile(rel, r.Body, r.Header.Get("If-Match"))
		if err != nil {
			return err
		}
		w.Header().Set("ETag", etag)
		writeJSON(w, http.StatusOK, etagResponse{etag})
		return nil
	})
}

func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) error {
	rel, err := workspace.CleanPath(r.PathValue("path"))
	if err != nil {
		return err
	}
	if rel == "" {
		return errorf(http.StatusBadRequest, "invalid_path", "The workspace root cannot be deleted through the files API; delete the workspace instead.")
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	return s.filesOf(r, func(f *workspace.Files) error {
		if err := f.Remove(rel, recursive); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

type mkdirRequest struct {
	Path string `json:"path"`
}

func (s *Server) handleMkdir(w http.ResponseWriter, r *http.Request) error {
	var req mkdirRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	rel, err := workspace.CleanPath(req.Path)
	if err != nil {
		return err
	}
	if rel == "" {
		return errorf(http.StatusConflict, "already_exists", "The workspace root already exists.")
	}
	return s.filesOf(r, func(f *workspace.Files) error {
		if err := f.Mkdir(rel); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, mkdirRequest{rel})
		return nil
	})
}

type renameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (s *Server) handleRename(w http.ResponseWriter, r *http.Request) error {
	var req renameRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	from, err := workspace.CleanPath(req.From)
	if err != nil {
		return err
	}
	to, err := workspace.CleanPath(req.To)
	if err != nil {
		return err
	}
	if from == "" || to == "" {
		return errorf(http.StatusBadRequest, "invalid_path", "Both from and to must name something inside the workspace, not its root.")
	}
	return s.filesOf(r, func(f *workspace.Files) error {
		if err := f.Rename(from, to); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renameRequest{from, to})
		return nil
	})
}

// handleSearch finds text in the workspace's files.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	regex, err := boolParam(q.Get("regex"), "regex")
	if err != nil {
		return err
	}
	caseSensitive, err := boolParam(q.Get("case"), "case")
	if err != nil {
		return err
	}
	max := s.opts.Limits.SearchMaxResults
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errorf(http.StatusBadRequest, "invalid_query", "max must be a positive number.")
		}
		max = min(n, max)
	}
	return s.filesOf(r, func(f *workspace.Files) error {
		res, err := f.Search(r.Context(), workspace.SearchQuery{
			Text: q.Get("q"), Regex: regex, CaseSensitive: caseSensitive, MaxResults: max,
		})
		if err != nil {
			return err
		}
		if res.Matches == nil {
			res.Matches = []workspace.Match{}
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	})
}

func boolParam(v, name string) (bool, error) {
	switch v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, errorf(http.StatusBadRequest, "invalid_query", "%s must be true or false.", name)
}
