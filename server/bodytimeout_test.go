package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ideserver/ideserver/server"
)

// TestSlowBody: a client that sends a request body too slowly (slowloris
// on the body) gets 408 request_timeout after Options.BodyIdle without a
// byte, and its connection is closed; a body sent at once is served.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	h := newHarness(t, func(o *server.Options) { o.BodyIdle = idle })
	path := "/api/v1/workspaces/" + h.wsA + "/state"
	send := func(body string, sent int) (*http.Response, time.Duration) {
		conn, err := net.DialTimeout("tcp", h.host, waitShort)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(waitShort))
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			path, h.host, h.tokA, len(body), body[:sent])
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, time.Since(start)
	}
	body := `{"open":["file:///workspace/main.go"]}`
	resp, took := send(body, 5) // 5 bytes, then nothing
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled body: status %d, want 408", resp.StatusCode)
	}
	if took < idle || took > waitShort/2 {
		t.Errorf("408 after %v, want about %v", took, idle)
	}
	if !resp.Close && !strings.EqualFold(resp.Header.Get("Connection"), "close") {
		t.Error("the connection of a timed-out body is kept open")
	}
	if resp, _ := send(body, len(body)); resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Errorf("whole body: status %d", resp.StatusCode)
	}
}
