package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// api sends requests to one server.
type api struct {
	base    string // http://HOST:PORT
	http    *http.Client
	timeout time.Duration // of one request (playground runs set their own)
	dialer  websocket.Dialer
}

func newAPI(base string, timeout time.Duration, conns int) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	return &api{
		base:    base,
		http:    &http.Client{Transport: tr},
		timeout: timeout,
		dialer:  websocket.Dialer{HandshakeTimeout: timeout},
	}
}

// apiError is an answer with another status than expected.
type apiError struct {
	Status  int
	Code    string // the error body's code, when there is one
	Message string
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("status %d: %s", e.Status, e.Message)
	}
	msg := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if keys, ok := limitKeys[e.Code]; ok {
		msg += " (server configuration: " + keys + ")"
	}
	return msg
}

// limitKeys names, by error code, the server's configuration keys whose
// limit refused a request (docs/api.md), for the operator to raise.
var limitKeys = map[string]string{
	"quota_exceeded":       "limits.max_workspaces_per_user",
	"too_many_connections": "limits.max_websockets_per_user",
	"too_many_terminals":   "terminal.max_per_workspace, terminal.max_per_tenant",
	"too_many_requests":    "playground.max_per_client, playground.max_concurrent, playground.max_queue",
}

// errorFrom reads an error answer.
func errorFrom(status int, body []byte) *apiError {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return &apiError{Status: status, Code: e.Error.Code, Message: e.Error.Message}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &apiError{Status: status, Message: msg}
}

// call sends one request with token as bearer credential ("" sends none)
// and body (nil, url.Values sent as a form, or a value sent as JSON). It
// fails unless the status is want, and decodes a JSON answer into out
// when out is not nil.
func (a *api) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return a.callCtx(ctx, method, path, token, body, want, out)
}

// callCtx is call bounded by ctx alone.
func (a *api) callCtx(ctx context.Context, method, path, token string, body any, want int, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if ue, ok := err.(*url.Error); ok {
		return ue.Err // without the URL, whose ids would make every message differ
	} else if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return errorFrom(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// dial opens a WebSocket on path with token as bearer credential (no
// Origin: a non-browser client).
func (a *api) dial(ctx context.Context, path, token string) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(a.base, "http") + path
	conn, resp, err := a.dialer.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, errorFrom(resp.StatusCode, data)
		}
		return nil, err
	}
	return conn, nil
}
