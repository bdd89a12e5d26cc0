package main

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestLoadConfigValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert := writeFile(t, dir, "cert.pem", "cert")
	key := writeFile(t, dir, "key.pem", "key")
	secret := writeFile(t, dir, "secret", strings.Repeat("s", 40))
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		yaml string
		env  []string
		key  string // "" means valid
		msg  string // substring of the message
	}{
		{"addr not host:port", "addr: nonsense", nil, "addr", "is not host:port"},
		{"addr port too big", "addr: 127.0.0.1:99999", nil, "addr", "not a number from 0 to 65535"},
		{"addr port 0 ok", "addr: 127.0.0.1:0", nil, "", ""},
		{"addr non-loopback", "addr: 0.0.0.0:8080", nil, "allowed_hosts", "DNS rebinding"},
		{"addr all interfaces", `addr: ":8080"`, nil, "allowed_hosts", "needs allowed_hosts or public_url"},
		{"addr non-loopback with hosts", "addr: 0.0.0.0:8080\nallowed_hosts: [ide.lan:8080]", nil, "", ""},
		{"addr non-loopback with public_url", "addr: 0.0.0.0:8080\npublic_url: https://ide.example.com", nil, "", ""},
		{"wildcard origin", "allowed_origins: ['*']", nil, "allowed_origins", "would allow every origin; list them"},
		{"wildcard subdomain origin", "allowed_origins: ['https://*.example.com']", nil, "allowed_origins", "would allow every origin"},
		{"origin with path", "allowed_origins: [https://portal.example/app]", nil, "allowed_origins", "no path"},
		{"origin null", "allowed_origins: ['null']", nil, "allowed_origins", "is not an origin"},
		{"origin from env bad", "", []string{"IDESERVER_ALLOWED_ORIGINS", "https://ok.example,ftp://x"}, "allowed_origins", `"ftp://x"`},
		{"wildcard host", "allowed_hosts: ['*']", nil, "allowed_hosts", "would allow every host; list them"},
		{"host with scheme", "allowed_hosts: ['http://x']", nil, "allowed_hosts", "not a host[:port]"},
		{"host bad port", "allowed_hosts: ['x:http']", nil, "allowed_hosts", "not a host[:port]"},
		{"public_url scheme", "public_url: ftp://ide.example.com", nil, "public_url", "not an origin"},
		{"public_url path", "public_url: https://ide.example.com/app", nil, "public_url", "no path"},
		{"public_url slash ok", "public_url: https://ide.example.com/", nil, "", ""},
		{"tls cert without key", "tls:\n  cert_file: " + cert, nil, "tls.key_file", "must be set with tls.cert_file"},
		{"tls key without cert", "tls:\n  key_file: " + key, nil, "tls.cert_file", "must be set with tls.key_file"},
		{"tls missing file", "tls:\n  cert_file: " + missing + "\n  key_file: " + key, nil, "tls.cert_file", "no such file"},
		{"tls ok", "tls:\n  cert_file: " + cert + "\n  key_file: " + key, nil, "", ""},
		{"jwt two keys", "auth:\n  jwt:\n    hmac_secret_file: " + secret + "\n    public_key_file: " + key, nil, "auth.jwt", "only one of"},
		{"jwt missing secret", "auth:\n  jwt:\n    hmac_secret_file: " + missing, nil, "auth.jwt.hmac_secret_file", "no such file"},
		{"jwt key is a directory", "auth:\n  jwt:\n    public_key_file: " + dir, nil, "auth.jwt.public_key_file", "is a directory"},
		{"jwt audience without key", "auth:\n  jwt:\n    audience: ide", nil, "auth.jwt.audience", "JWTs are off"},
		{"jwt issuer without key", "auth:\n  jwt:\n    issuer: portal", nil, "auth.jwt.issuer", "JWTs are off"},
		{"jwt ok", "auth:\n  jwt:\n    hmac_secret_file: " + secret + "\n    audience: ide", nil, "", ""},
		{"same_site unknown", "auth:\n  session:\n    same_site: sometimes", nil, "auth.session.same_site", "not lax, strict or none"},
		{"same_site none without tls", "auth:\n  session:\n    same_site: none", nil, "auth.session.same_site", "needs TLS"},
		{"same_site none with http public_url", "public_url: http://ide.example.com\nauth:\n  session:\n    same_site: None", nil, "auth.session.same_site", "needs TLS"},
		{"same_site none with https public_url", "public_url: https://ide.example.com\nauth:\n  session:\n    same_site: None", nil, "", ""},
		{"ttl zero", "auth:\n  session:\n    ttl: 0s", nil, "auth.session.ttl", "not between"},
		{"ttl no unit", "auth:\n  session:\n    ttl: 10", nil, "auth.session.ttl", "is not a duration"},
		{"file size too big", "limits:\n  max_file_size: 2GiB", nil, "limits.max_file_size", "not between 1KiB and 1GiB"},
		{"file size in bytes by mistake", "limits:\n  max_file_size: 32", nil, "limits.max_file_size", "a plain number is bytes"},
		{"file size from env", "", []string{"IDESERVER_LIMITS_MAX_FILE_SIZE", "12XB"}, "limits.max_file_size", "(IDESERVER_LIMITS_MAX_FILE_SIZE)"},
		{"request body zero", "limits:\n  max_request_body: 0", nil, "limits.max_request_body", "not between"},
		{"state too big", "limits:\n  max_state_size: 65MiB", nil, "limits.max_state_size", "not between"},
		{"ws message too big", "limits:\n  max_ws_message: 2GiB", nil, "limits.max_ws_message", "not between"},
		{"workspaces zero", "limits:\n  max_workspaces_per_user: 0", nil, "limits.max_workspaces_per_user", "not between 1 and"},
		{"websockets negative", "limits:\n  max_websockets_per_user: -1", nil, "limits.max_websockets_per_user", "not between 1 and"},
		{"search not a number", "limits:\n  search_max_results: many", nil, "limits.search_max_results", "not a whole number"},
		{"log level", "log:\n  level: verbose", nil, "log.level", "not debug, info, warn or error"},
		{"log format", "log:\n  format: xml", nil, "log.format", "not json or text"},
		{"shutdown zero", "shutdown_timeout: 0s", nil, "shutdown_timeout", "above 0"},
		{"go flags newline", "go:\n  flags: \"-mod=mod\\n-x\"", nil, "go.flags", "control characters"},
		{"token with space", "token: \"abc def\"", nil, "token", "spaces"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, dir, "case"+strconv.Itoa(i)+".yaml", tt.yaml+"\n")
			_, err := LoadConfig([]string{"--config", p}, envFunc(baseEnv(tt.env...)), nil)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want one on %s", tt.key)
			}
			kes := keyErrors(err)
			if len(kes) == 0 {
				t.Fatalf("error %q holds no *KeyError", err)
			}
			for _, ke := range kes {
				if ke.Key != tt.key {
					t.Errorf("error on key %q (%v); want only %q", ke.Key, ke, tt.key)
				}
			}
			if !strings.HasPrefix(err.Error(), "config: "+tt.key+": ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q; want it to start with %q and contain %q", err, "config: "+tt.key+": ", tt.msg)
			}
			if strings.Contains(err.Error(), "abc def") {
				t.Errorf("error echoes the token: %q", err)
			}
		})
	}
}

func TestDataDirDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // "" means an error on data
	}{
		{"xdg", map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/xdg"}, nil, "/xdg/ideserver"},
		{"relative xdg ignored", map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "rel"}, nil, "/home/u/.local/share/ideserver"},
		{"home fallback", map[string]string{"HOME": "/home/u"}, nil, "/home/u/.local/share/ideserver"},
		{"tilde expanded", map[string]string{"HOME": "/home/u"}, []string{"--data", "~/state"}, "/home/u/state"},
		{"env data", map[string]string{"HOME": "/home/u", "IDESERVER_DATA": "/srv/ide"}, nil, "/srv/ide"},
		{"no home no xdg", map[string]string{}, nil, ""},
		{"tilde without home", map[string]string{"XDG_DATA_HOME": "/xdg"}, []string{"--data", "~/state"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadConfig(tt.args, envFunc(tt.env), nil)
			if tt.want == "" {
				kes := keyErrors(err)
				if len(kes) != 1 || kes[0].Key != "data" {
					t.Fatalf("err = %v, want one error on data", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Data != tt.want {
				t.Errorf("data = %q, want %q", c.Data, tt.want)
			}
		})
	}
}

func TestHostsFor(t *testing.T) {
	t.Parallel()
	load := func(t *testing.T, args ...string) *Config {
		t.Helper()
		c, err := LoadConfig(args, envFunc(baseEnv()), nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("port 0 resolves to the bound port", func(t *testing.T) {
		t.Parallel()
		c := load(t, "--addr", "127.0.0.1:0")
		ln, err := net.Listen("tcp", c.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		want := []string{"127.0.0.1:" + port, "localhost:" + port}
		if got := c.HostsFor(ln.Addr().String()); !slices.Equal(got, want) || port == "0" {
			t.Errorf("HostsFor = %q, want %q", got, want)
		}
	})
	tests := []struct {
		name   string
		args   []string
		listen string
		want   []string
	}{
		{"ipv4 loopback", nil, "127.0.0.1:8080", []string{"127.0.0.1:8080", "localhost:8080"}},
		{"ipv6 loopback", []string{"--addr", "[::1]:0"}, "[::1]:5000", []string{"[::1]:5000", "localhost:5000"}},
		{"localhost", []string{"--addr", "localhost:0"}, "localhost:7000", []string{"127.0.0.1:7000", "localhost:7000", "[::1]:7000"}},
		{"public_url added", []string{"--public-url", "https://ide.example.com"}, "127.0.0.1:8080", []string{"127.0.0.1:8080", "localhost:8080", "ide.example.com"}},
		{"public_url only on non-loopback", []string{"--addr", "0.0.0.0:8080", "--public-url", "https://ide.example.com:8443"}, "0.0.0.0:8080", []string{"ide.example.com:8443"}},
		{"allowed_hosts replace loopback names", []string{"--addr", "0.0.0.0:0", "--public-url", "https://ide.example.com", "--config", writeFile(t, t.TempDir(), "h.yaml", "allowed_hosts: [ide.lan:8080, ide.example.com]\n")}, "0.0.0.0:8080", []string{"ide.lan:8080", "ide.example.com"}},
		{"unparsable listen address", nil, "garbage", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := load(t, tt.args...).HostsFor(tt.listen); !slices.Equal(got, tt.want) {
				t.Errorf("HostsFor(%q) = %q, want %q", tt.listen, got, tt.want)
			}
		})
	}
}

func TestNormalizeOriginAndHost(t *testing.T) {
	t.Parallel()
	origins := []struct{ in, want string }{
		{"https://ide.example.com", "https://ide.example.com"},
		{"HTTPS://IDE.example.COM/", "https://ide.example.com"},
		{"https://ide.example.com:443", "https://ide.example.com"},
		{"http://ide.example.com:80", "http://ide.example.com"},
		{"http://ide.example.com:443", "http://ide.example.com:443"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"https://user@ide.example.com", ""},
		{"https://ide.example.com?x=1", ""},
		{"https://ide.example.com?", ""},
		{"https://ide.example.com#f", ""},
		{"https://ide.example.com/app", ""},
		{"https://", ""},
		{"https://:443", ""},
		{"https://ide.example.com:99999", ""},
		{"ws://ide.example.com", ""},
		{"ide.example.com", ""},
		{"null", ""},
	}
	for _, tt := range origins {
		got, err := normalizeOrigin(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	hosts := []struct{ in, want string }{
		{"IDE.example.com", "ide.example.com"},
		{"ide.example.com:8080", "ide.example.com:8080"},
		{"127.0.0.1:80", "127.0.0.1:80"},
		{"[::1]", "[::1]"},
		{"[::1]:8080", "[::1]:8080"},
		{"::1", ""},
		{"[example.com]:80", ""},
		{"[1.2.3.4]", ""},
		{"[::1]8080", ""},
		{"ide.example.com:0", ""},
		{"ide.example.com:", ""},
		{"a/b", ""},
		{"a@b", ""},
		{"", ""},
		{"a..b", ""},
	}
	for _, tt := range hosts {
		got, err := normalizeHost(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("normalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
