package playground

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	goformat "go/format"
	"path"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/ideserver/ideserver/sandbox"
	"github.com/ideserver/ideserver/store"
)

// Request is a /compile request, as golang/playground reads it.
type Request struct {
	Body    string
	WithVet bool `json:"withVet"`
}

// Event is one piece of program output. Delay is the time since the
// previous event (nanoseconds in JSON).
type Event struct {
	Message string
	Kind    string        // "stdout" or "stderr"
	Delay   time.Duration // time to wait before printing Message
}

// Response is the answer of /compile and /vet, field for field as
// golang/playground writes it.
type Response struct {
	Errors      string
	Events      []Event
	Status      int
	IsTest      bool
	TestsFailed int
	// VetErrors holds go vet's findings; only with WithVet.
	VetErrors string `json:",omitempty"`
	// VetOK reports that vet ran and found nothing; only with WithVet.
	VetOK bool `json:",omitempty"`
}

// FmtResponse is the answer of /fmt.
type FmtResponse struct {
	Body  string
	Error string
}

// checkSize returns ErrTooLarge for a body above MaxSnippet.
func (s *Service) checkSize(n int) error {
	if int64(n) > s.opts.MaxSnippet {
		return fmt.Errorf("%w: the body is %d bytes; at most %d are accepted", ErrTooLarge, n, s.opts.MaxSnippet)
	}
	return nil
}

// Compile builds and runs req.Body (Go source or txtar) for client (the key
// of the per-client limit). Build errors, vet findings, exit codes and
// timeouts are results in the Response; errors are ErrTooLarge, ErrBusy,
// ErrClosed, ctx's, or internal ones. It blocks until the program and
// everything it started are gone.
func (s *Service) Compile(ctx context.Context, client string, req Request) (*Response, error) {
	var (
		o     string    // the run's outcome, once it has one
		start time.Time // when it was admitted
	)
	out, err := s.withRun(ctx, client, req.Body, runOptions{vet: req.WithVet, build: true}, func(ctx context.Context, p *prepared) (*Response, error) {
		start = p.admitted
		if p.buildErrs != "" {
			o = buildOutcome(p.buildErrs)
			return &Response{Errors: p.buildErrs, IsTest: p.isTest}, nil
		}
		rec := &recorder{now: s.opts.Now, start: s.opts.Now()}
		res, err := s.execute(ctx, p, rec)
		if err != nil {
			return nil, err
		}
		o = res.outcome
		vetErrs, err := p.waitVet() // vet ran beside the program
		if err != nil {
			return nil, err
		}
		if req.WithVet && vetErrs == "" && p.vetDone != nil {
			s.bins.vetted(p.binKey)
		}
		events := rec.result()
		out := &Response{Errors: res.errors, Events: events, Status: res.status, IsTest: p.isTest}
		if p.isTest {
			for _, e := range events {
				if e.Kind == "stdout" {
					out.TestsFailed += strings.Count(e.Message, "--- FAIL")
				}
			}
		}
		if req.WithVet {
			out.VetErrors = vetErrs
			out.VetOK = vetErrs == ""
		}
		return out, nil
	})
	switch {
	case err != nil:
		o = errorOutcome(err)
	case o == "":
		o = outcomeBuildFailed // files that do not split
	}
	s.met.observe(o, start)
	return out, err
}

// Vet runs go vet on body; its findings are Response.Errors.
func (s *Service) Vet(ctx context.Context, client, body string) (*Response, error) {
	return s.withRun(ctx, client, body, runOptions{vet: true}, func(_ context.Context, p *prepared) (*Response, error) {
		if p.buildErrs != "" { // its modules cannot be had
			return &Response{Errors: p.buildErrs}, nil
		}
		vetErrs, err := p.waitVet()
		if err != nil {
			return nil, err
		}
		return &Response{Errors: vetErrs}, nil
	})
}

// withRun is what Compile and Vet share: it checks body's size, splits it
// (a malformed txtar is Response.Errors), waits for a slot of client,
// prepares the run directory (see prepare) and calls f with them; the slot
// and the directory are released when f returns.
func (s *Service) withRun(ctx context.Context, client, body string, o runOptions, f func(context.Context, *prepared) (*Response, error)) (*Response, error) {
	if err := s.checkSize(len(body)); err != nil {
		return nil, err
	}
	fs, err := SplitFiles([]byte(body))
	if err != nil {
		return &Response{Errors: invalidFilesMessage(err)}, nil
	}
	ctx, release, err := s.admit(ctx, client)
	if err != nil {
		return nil, err
	}
	defer release()
	admitted := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := s.prepare(ctx, fs, o)
	if err != nil {
		return nil, err
	}
	p.admitted = admitted
	defer func() {
		// f waits for vet; when it failed first, vet is stopped here.
		cancel()
		_, _ = p.waitVet()
		sandbox.RemoveAll(p.root)
	}()
	return f(ctx, p)
}

// invalidFilesMessage is SplitFiles' error as the user sees it: without
// the ErrInvalidFiles prefix.
func invalidFilesMessage(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidFiles.Error()+": ")
}

// admit waits for a slot for client and ties the returned context to the
// Service's lifetime. Call release once done.
func (s *Service) admit(ctx context.Context, client string) (context.Context, func(), error) {
	if s.ctx.Err() != nil {
		return nil, nil, ErrClosed
	}
	s.active.Add(1)
	release, err := s.lim.acquire(ctx, client)
	if err != nil {
		s.active.Done()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.ctx, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil); release(); s.active.Done() }, nil
}

// Fmt formats body's Go files with gofmt and its go.mod files; with
// fixImports it also adds missing imports of the standard library and
// removes unused ones (the Go Playground resolves nothing else). It runs
// no command. It waits for a slot of client like Compile, so its errors
// are also ErrBusy, ErrClosed and ctx's; a syntax error is
// FmtResponse.Error.
func (s *Service) Fmt(ctx context.Context, client, body string, fixImports bool) (FmtResponse, error) {
	if err := s.checkSize(len(body)); err != nil {
		return FmtResponse{}, err
	}
	_, release, err := s.admit(ctx, client)
	if err != nil {
		return FmtResponse{}, err
	}
	defer release()
	var imp *stdImports
	if fixImports {
		imp = s.std
	}
	return formatBody(body, imp), nil
}

// formatBody is Fmt without the size check and the limiter; imp nil means
// gofmt only.
func formatBody(body string, imp *stdImports) FmtResponse {
	fs, err := SplitFiles([]byte(body))
	if err != nil {
		return FmtResponse{Error: invalidFilesMessage(err)}
	}
	for _, name := range fs.Names() {
		in := fs.Data(name)
		switch {
		case path.Ext(name) == ".go":
			var out []byte
			var err error
			if imp != nil {
				out, err = imp.fix(name, in)
				if errors.Is(err, errNoStdIndex) {
					return FmtResponse{Error: "imports cannot be fixed on this server: " + err.Error()}
				}
			} else {
				out, err = goformat.Source(in)
				if err != nil {
					err = fmt.Errorf("%s:%w", name, err)
				}
			}
			if err != nil {
				return FmtResponse{Error: err.Error()}
			}
			fs.Add(name, out)
		case path.Base(name) == "go.mod":
			f, err := modfile.Parse(name, in, nil)
			if err != nil {
				return FmtResponse{Error: err.Error()}
			}
			out, err := f.Format()
			if err != nil {
				return FmtResponse{Error: err.Error()}
			}
			fs.Add(name, out)
		}
	}
	return FmtResponse{Body: string(fs.Format())}
}

// SnippetID is the id /share gives body: a hash of it, so equal bodies
// share an id (golang/playground's scheme).
func SnippetID(body []byte) string {
	h := sha256.New()
	h.Write([]byte("Go playground salt\n"))
	h.Write(body)
	b := base64.URLEncoding.EncodeToString(h.Sum(nil))
	n := 11
	for n <= len(b) && b[n-1] == '_' {
		n++
	}
	return b[:n]
}

// Share stores body as a snippet and returns its id. Snippets are
// content-addressed: sharing a body that is already stored returns its id
// and costs nothing. A new snippet takes a token of client's rate limit
// (Options.ShareRate); client "" is not limited (package server passes ""
// for signed-in callers and the remote address for anonymous ones).
// Errors are ErrTooLarge, ErrRateLimited or the store's.
func (s *Service) Share(client string, body []byte) (string, error) {
	if err := s.checkSize(len(body)); err != nil {
		return "", err
	}
	id := SnippetID(body)
	if old, err := s.opts.Store.GetSnippet(id); err == nil && bytes.Equal(old.Body, body) {
		return id, nil
	}
	if client != "" && s.shares != nil && !s.shares.allow(client) {
		return "", ErrRateLimited
	}
	if err := s.opts.Store.PutSnippet(store.Snippet{ID: id, Body: body, CreatedAt: s.opts.Now()}); err != nil {
		return "", fmt.Errorf("store snippet: %w", err)
	}
	return id, nil
}

// Snippet returns the snippet id's body, or ErrNotFound.
func (s *Service) Snippet(id string) ([]byte, error) {
	sn, err := s.opts.Store.GetSnippet(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get snippet: %w", err)
	}
	return sn.Body, nil
}
