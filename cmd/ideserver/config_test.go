package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const examplePath = "../../configs/ideserver.example.yaml"

// envFunc returns a getenv over m.
func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// baseEnv is a clean environment with only HOME set.
func baseEnv(extra ...string) map[string]string {
	m := map[string]string{"HOME": "/home/u"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyErrors flattens err (joined or not) into its *KeyErrors.
func keyErrors(err error) []*KeyError {
	var out []*KeyError
	var walk func(error)
	walk = func(e error) {
		if ke, ok := e.(*KeyError); ok {
			out = append(out, ke)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func wantDefaults(data string) Config {
	c := defaultConfig()
	c.Data = data
	return c
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(nil, envFunc(baseEnv()), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := wantDefaults("/home/u/.local/share/ideserver")
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
	if c.Addr != "127.0.0.1:8080" || c.Limits.MaxFileSize != 32*MiB || time.Duration(c.Auth.Login.TTL) != 168*time.Hour {
		t.Errorf("unexpected default values: %+v", c)
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "addr: 127.0.0.1:1001\nlimits:\n  max_file_size: 2MiB\nallowed_origins: [https://file.example]\nlog:\n  level: warn\n")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		addr    string
		size    ByteSize
		origins []string
		level   string
	}{
		{"default", nil, baseEnv(), "127.0.0.1:8080", 32 * MiB, nil, "info"},
		{"file", []string{"--config", file}, baseEnv(), "127.0.0.1:1001", 2 * MiB, []string{"https://file.example"}, "warn"},
		{"file from env", nil, baseEnv("IDESERVER_CONFIG", file), "127.0.0.1:1001", 2 * MiB, []string{"https://file.example"}, "warn"},
		{"env over file", []string{"--config", file}, baseEnv(
			"IDESERVER_ADDR", "127.0.0.1:1002", "IDESERVER_LIMITS_MAX_FILE_SIZE", "3MiB",
			"IDESERVER_ALLOWED_ORIGINS", "https://env.example, https://b.example:8443", "IDESERVER_LOG_LEVEL", "error"),
			"127.0.0.1:1002", 3 * MiB, []string{"https://env.example", "https://b.example:8443"}, "error"},
		{"flag over env", []string{"--config", file, "--addr=127.0.0.1:1003", "-log-level", "DEBUG"}, baseEnv(
			"IDESERVER_ADDR", "127.0.0.1:1002", "IDESERVER_LOG_LEVEL", "error"),
			"127.0.0.1:1003", 2 * MiB, []string{"https://file.example"}, "debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadConfig(tt.args, envFunc(tt.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tt.addr || c.Limits.MaxFileSize != tt.size || !slices.Equal(c.AllowedOrigins, tt.origins) || c.Log.Level != tt.level {
				t.Errorf("got addr=%s size=%s origins=%q level=%s; want %s %s %q %s",
					c.Addr, c.Limits.MaxFileSize, c.AllowedOrigins, c.Log.Level, tt.addr, tt.size, tt.origins, tt.level)
			}
		})
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		yaml    string
		want    string // exact error text
		unknown bool
	}{
		{"unknown top-level key", "# c\nlog:\n  level: info\nadr: 127.0.0.1:1\n", `config: unknown key "adr" (line 4)`, true},
		{"unknown nested key", "limits:\n  max_file_size: 1MiB\n  max_fil: 2\n", `config: unknown key "limits.max_fil" (line 3)`, true},
		{"unknown group", "loggin:\n  level: info\n", `config: unknown key "loggin" (line 1)`, true},
		{"bad size names key and line", "limits:\n  max_file_size: 12XB\n", `config: limits.max_file_size: "12XB" is not a size (bytes, or a whole number with KiB, MiB or GiB) (line 2)`, false},
		{"group given a value", "limits: 5\n", `config: limits: must be a mapping of keys (line 1)`, false},
		{"leaf given a mapping", "addr:\n  host: x\n", `config: addr: must be a single value, not a list or mapping (line 2)`, false},
		{"list given a scalar", "allowed_hosts: a.example\n", `config: allowed_hosts: must be a list (line 1)`, false},
		{"repeated key", "addr: a:1\naddr: b:2\n", `config: addr: set twice (first on line 1) (line 2)`, false},
		{"bad bool", "metrics:\n  require_auth: maybe\n", `config: metrics.require_auth: "maybe" is not true or false (line 2)`, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, dir, strconv.Itoa(i)+".yaml", tt.yaml)
			_, err := LoadConfig([]string{"--config", p}, envFunc(baseEnv()), nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
			if errors.Is(err, ErrUnknownKey) != tt.unknown {
				t.Errorf("errors.Is(err, ErrUnknownKey) = %v, want %v", !tt.unknown, tt.unknown)
			}
		})
	}
	t.Run("syntax error", func(t *testing.T) {
		t.Parallel()
		p := writeFile(t, dir, "syntax.yaml", "addr: [\n")
		if _, err := LoadConfig([]string{"--config", p}, envFunc(baseEnv()), nil); err == nil || !strings.HasPrefix(err.Error(), "config: yaml:") {
			t.Errorf("err = %v, want a yaml syntax error", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := LoadConfig(nil, envFunc(baseEnv("IDESERVER_CONFIG", filepath.Join(dir, "nope.yaml"))), nil)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want ErrNotExist", err)
		}
	})
	t.Run("empty file and null values", func(t *testing.T) {
		t.Parallel()
		for _, content := range []string{"", "# only a comment\n", "addr:\nlimits:\n"} {
			p := writeFile(t, t.TempDir(), "c.yaml", content)
			c, err := LoadConfig([]string{"--config", p}, envFunc(baseEnv()), nil)
			if err != nil || !reflect.DeepEqual(*c, wantDefaults("/home/u/.local/share/ideserver")) {
				t.Errorf("%q: got %+v, %v; want defaults", content, c, err)
			}
		}
	})
}

func TestLoadConfigNormalises(t *testing.T) {
	t.Parallel()
	yml := "public_url: HTTPS://IDE.Example.com:443/\nallowed_origins: [https://Portal.example:443, http://a.example:80, https://portal.example]\n" +
		"allowed_hosts: [IDE.lan:8080, '[::1]:9000']\nlog:\n  level: WARN\n  format: Text\n"
	p := writeFile(t, t.TempDir(), "c.yaml", yml)
	c, err := LoadConfig([]string{"--config", p, "--data", "rel/dir"}, envFunc(baseEnv()), nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	checks := []struct {
		name      string
		got, want any
	}{
		{"public_url", c.PublicURL, "https://ide.example.com"},
		{"allowed_origins", c.AllowedOrigins, []string{"https://portal.example", "http://a.example"}},
		{"allowed_hosts", c.AllowedHosts, []string{"ide.lan:8080", "[::1]:9000"}},
		{"log", c.Log.Level + "/" + c.Log.Format, "warn/text"},
		{"LogLevel", c.LogLevel(), slog.LevelWarn},
		{"data", c.Data, filepath.Join(wd, "rel", "dir")},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"512", 512, true}, {"0", 0, true}, {"64KiB", 64 * KiB, true}, {"1MiB", MiB, true},
		{"1GiB", GiB, true}, {"2 gib", 2 * GiB, true}, {"3TiB", 3 * TiB, true}, {"10B", 10, true}, {" 7 ", 7, true},
		{"12XB", 0, false}, {"32MB", 0, false}, {"1.5MiB", 0, false}, {"-1", 0, false}, {"MiB", 0, false},
		{"", 0, false}, {"+5", 0, false}, {"9223372036854775807GiB", 0, false}, {"1 2MiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var b ByteSize
			err := b.UnmarshalText([]byte(tt.in))
			if (err == nil) != tt.ok || b != tt.want {
				t.Fatalf("UnmarshalText(%q) = %d, %v; want %d ok=%v", tt.in, b, err, tt.want, tt.ok)
			}
			if !tt.ok {
				return
			}
			var back ByteSize
			if err := back.UnmarshalText([]byte(b.String())); err != nil || back != b {
				t.Errorf("round trip of %s: %d, %v", b, back, err)
			}
		})
	}
	if got := (1500 * KiB).String(); got != "1500KiB" {
		t.Errorf("String = %q", got)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true}, {"168h", 168 * time.Hour, true}, {"1h30m", 90 * time.Minute, true},
		{"10", 0, false}, {"abc", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var d Duration
			if err := d.UnmarshalText([]byte(tt.in)); (err == nil) != tt.ok || time.Duration(d) != tt.want {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v ok=%v", tt.in, time.Duration(d), err, tt.want, tt.ok)
			}
		})
	}
}

func TestKeyTable(t *testing.T) {
	t.Parallel()
	keys := newKeyTable()
	for _, name := range []string{"IDESERVER_ADDR", "IDESERVER_DATA", "IDESERVER_TOKEN", "IDESERVER_PUBLIC_URL",
		"IDESERVER_LOG_LEVEL", "IDESERVER_LIMITS_MAX_FILE_SIZE", "IDESERVER_AUTH_JWT_HMAC_SECRET_FILE", "IDESERVER_ALLOWED_ORIGINS"} {
		if !slices.ContainsFunc(keys.leaves, func(k configKey) bool { return k.env == name }) {
			t.Errorf("no key reads %s", name)
		}
	}
	for _, f := range configFlags() {
		if _, ok := keys.byPath[f.key]; !ok {
			t.Errorf("flag --%s sets unknown key %q", f.name, f.key)
		}
	}
	// Every typed leaf (not a string) is read from its environment variable:
	// an unparsable value is an error naming that key and variable.
	env := baseEnv()
	for _, k := range keys.leaves {
		env[k.env] = "!"
	}
	_, err := LoadConfig(nil, envFunc(env), nil)
	kes := keyErrors(err)
	typed := 0
	for _, k := range keys.leaves {
		kind := reflect.TypeFor[Config]().FieldByIndex(k.index).Type.Kind()
		if kind == reflect.String || kind == reflect.Slice {
			continue
		}
		typed++
		if !slices.ContainsFunc(kes, func(ke *KeyError) bool { return ke.Key == k.path && ke.Source == k.env }) {
			t.Errorf("%s=! was not reported on %s", k.env, k.path)
		}
	}
	if typed < 10 {
		t.Errorf("only %d typed keys", typed)
	}
}

func TestExampleFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("decodes strictly to the defaults", func(t *testing.T) {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		got := defaultConfig()
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if len(got.AllowedOrigins) == 0 && len(got.AllowedHosts) == 0 {
			got.AllowedOrigins, got.AllowedHosts = nil, nil // "[]" decodes to an empty, non-nil slice
		}
		if want := defaultConfig(); !reflect.DeepEqual(got, want) {
			t.Errorf("example decodes to\n%+v\nwant defaults\n%+v", got, want)
		}
	})
	t.Run("documents every key", func(t *testing.T) {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		found := map[string]*yaml.Node{}
		var walk func(n *yaml.Node, prefix string)
		walk = func(n *yaml.Node, prefix string) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				path := strings.TrimPrefix(prefix+"."+n.Content[i].Value, ".")
				found[path] = n.Content[i]
				if n.Content[i+1].Kind == yaml.MappingNode {
					walk(n.Content[i+1], path)
				}
			}
		}
		walk(doc.Content[0], "")
		keys := newKeyTable()
		for _, k := range keys.leaves {
			kn, ok := found[k.path]
			if !ok {
				t.Errorf("example does not set %s", k.path)
			} else if strings.TrimSpace(kn.HeadComment) == "" {
				t.Errorf("example key %s (line %d) has no comment above it", k.path, kn.Line)
			}
		}
		if len(found) != len(keys.leaves)+len(keys.groups) {
			t.Errorf("example has %d keys, Config has %d", len(found), len(keys.leaves)+len(keys.groups))
		}
	})
	t.Run("loads to exactly the defaults", func(t *testing.T) {
		env := envFunc(map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/xdg"})
		got, err := LoadConfig([]string{"--config", examplePath}, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := LoadConfig(nil, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("example loads to\n%+v\nwant defaults\n%+v", got, want)
		}
	})
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		isHelp bool
		stderr string
	}{
		{"help", []string{"-h"}, true, "-public-url"},
		{"long help", []string{"--help"}, true, "IDESERVER_"},
		{"unknown flag", []string{"--nope"}, false, "flag provided but not defined: -nope"},
		{"positional", []string{"extra"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			_, err := LoadConfig(tt.args, envFunc(baseEnv()), &stderr)
			if err == nil || errors.Is(err, flag.ErrHelp) != tt.isHelp {
				t.Fatalf("err = %v, want help=%v", err, tt.isHelp)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token-value"
	c, err := LoadConfig([]string{"--token", token}, envFunc(baseEnv("IDESERVER_ALLOWED_HOSTS", "a.example")), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	r.AllowedHosts[0] = "changed"
	if r.Token != "REDACTED" || c.Token != token || c.AllowedHosts[0] != "a.example" {
		t.Errorf("Redacted: copy token %q, original token %q, original hosts %q", r.Token, c.Token, c.AllowedHosts)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
	if out := buf.String(); strings.Contains(out, token) || !strings.Contains(out, `"REDACTED"`) || !strings.Contains(out, `"32MiB"`) {
		t.Errorf("logged config = %s", out)
	}
	var empty Config
	if empty.Redacted().Token != "" {
		t.Error("Redacted set a token that was not set")
	}
}
