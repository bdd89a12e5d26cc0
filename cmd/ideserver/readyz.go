package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/ideserver/ideserver/sandbox"
)

// withReadyzIsolation adds "isolation":"<mode>" (bwrap or none) to the JSON
// object h answers GET /readyz with, keeping its status and other fields,
// so a probe or an operator sees the mode in force. Other requests pass
// through untouched. The mode is a fixed word, never a path.
func withReadyzIsolation(h http.Handler, mode sandbox.Isolation) http.Handler {
	field, _ := json.Marshal(string(mode))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		rec := &bufferedResponse{header: http.Header{}}
		h.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil && obj != nil {
			obj["isolation"] = field
			if b, err := json.Marshal(obj); err == nil {
				body = append(b, '\n')
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

// bufferedResponse keeps a small answer (the /readyz JSON) in memory.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
