package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestHTTP2NotServed is AV-01. HTTP/2's rapid reset (CVE-2023-39325) and
// CONTINUATION flood (CVE-2023-45288) attacks need a server that speaks
// HTTP/2. ideserver does not: over TLS it offers only HTTP/1.1 in ALPN
// (its tls.Config names no "h2", so net/http does not add it), and on
// plain HTTP it does not take the cleartext HTTP/2 preface. The test pins
// both down, and the toolchain: should HTTP/2 ever be served, the Go
// release serving it must carry both fixes (Go 1.21.9 / 1.22.2 and later).
func TestHTTP2NotServed(t *testing.T) {
	t.Parallel()
	if !goAtLeast(runtime.Version(), 1, 22, 2) {
		t.Errorf("built with %s; HTTP/2 fixes for CVE-2023-39325 and CVE-2023-45288 need go1.22.2 or later", runtime.Version())
	}
	certFile, keyFile := selfSignedCert(t)
	t.Run("tls", func(t *testing.T) {
		t.Parallel()
		s, err := startServe(t, t.TempDir(), nil, append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "none",
			"IDESERVER_TLS_CERT_FILE", certFile, "IDESERVER_TLS_KEY_FILE", keyFile)...)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(s.url)
		if err != nil || u.Scheme != "https" {
			t.Fatalf("serve URL %q, want https", s.url)
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host, &tls.Config{
			InsecureSkipVerify: true, // the test's own self-signed certificate
			NextProtos:         []string{"h2", "http/1.1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
			t.Errorf("the server negotiated HTTP/2 over TLS")
		}
	})
	t.Run("cleartext", func(t *testing.T) {
		t.Parallel()
		s, err := startServe(t, t.TempDir(), nil, append(fakeTools(t), "IDESERVER_ISOLATION_MODE", "none")...)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(s.url)
		conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		// The HTTP/2 connection preface, then an empty SETTINGS frame.
		if _, err := io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil && err != io.EOF {
			t.Fatalf("read the answer to the preface: %v", err)
		}
		// An HTTP/2 server answers with a binary SETTINGS frame; an
		// HTTP/1.1 server with a status line (or by closing).
		if line != "" && !strings.HasPrefix(line, "HTTP/1.1 ") {
			t.Errorf("the answer to an HTTP/2 preface is not HTTP/1.1: %q", line)
		}
	})
}

// goAtLeast reports whether the release named by v ("go1.26.8", possibly
// with a suffix such as " X:…" or "-rc1") is at least major.minor.patch. A
// development build ("devel …") counts as new enough.
func goAtLeast(v string, major, minor, patch int) bool {
	if strings.HasPrefix(v, "devel") {
		return true
	}
	v = strings.TrimPrefix(strings.Fields(v)[0], "go")
	var parts [3]int
	for i, f := range strings.SplitN(v, ".", 3) {
		fmt.Sscanf(f, "%d", &parts[i]) // stops at "rc1" and the like
	}
	want := [3]int{major, minor, patch}
	for i := range parts {
		if parts[i] != want[i] {
			return parts[i] > want[i]
		}
	}
	return true
}

func TestGoAtLeast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"go1.22.2", true}, {"go1.22.1", false}, {"go1.21.9", false}, {"go1.26.8", true},
		{"go1.23", true}, {"go1.22", false}, {"go1.26rc1", true}, {"devel go1.27-abc", true},
		{"go1.22.2 X:nocoverageredesign", true}, {"go2.0.0", true},
	} {
		if got := goAtLeast(tc.v, 1, 22, 2); got != tc.want {
			t.Errorf("goAtLeast(%q, 1.22.2) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// selfSignedCert writes a certificate and key for 127.0.0.1 and returns
// their paths.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}
