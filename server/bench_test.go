package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

var benchSizes = []struct {
	name string
	size int
}{
	{"4KiB", 4 << 10},
	{"1MiB", 1 << 20},
}

// benchDo sends one request and drains the answer; it fails on any status
// but want.
func benchDo(b *testing.B, h *harness, method, url string, body []byte, want int, hdr ...string) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.ts.URL+url, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.tokA)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
}

// BenchmarkReadFile measures GET of a file through the whole stack: HTTP,
// middleware, authentication (bbolt lookup), rooted read and ETag.
func BenchmarkReadFile(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			h := newHarness(b)
			url := h.filesURL(h.wsA, "data.bin")
			benchDo(b, h, "PUT", url, bytes.Repeat([]byte("x"), sz.size), http.StatusOK)
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				benchDo(b, h, "GET", url, nil, http.StatusOK)
			}
		})
	}
}

// BenchmarkWriteFile measures an atomic PUT (temporary file, fsync,
// rename, directory fsync) through the whole stack.
func BenchmarkWriteFile(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			h := newHarness(b)
			url := h.filesURL(h.wsA, "data.bin")
			body := bytes.Repeat([]byte("y"), sz.size)
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				benchDo(b, h, "PUT", url, body, http.StatusOK, "Content-Type", "application/octet-stream")
			}
		})
	}
}

// BenchmarkListWorkspaces lists a user's 50 workspaces.
func BenchmarkListWorkspaces(b *testing.B) {
	h := newHarness(b)
	for i := range 49 { // plus the harness's own
		if _, err := h.mgr.Create(context.Background(), workspace.Owner{Tenant: "a", User: "a1"}, workspace.CreateOptions{Name: "ws-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		benchDo(b, h, "GET", "/api/v1/workspaces", nil, http.StatusOK)
	}
}
