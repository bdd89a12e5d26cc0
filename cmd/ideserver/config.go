package main

// Configuration: defaults, the YAML file, IDESERVER_* environment variables
// and flags, merged in that order by LoadConfig into one validated Config.
// This is the only place in the server that reads flags or the
// environment (internal/deps_test.go enforces it for the flag package
// outside cmd/); packages receive their Options from main.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/module"
)

// Config is ideserver's whole configuration, read once at start by
// LoadConfig. Every leaf field has a YAML key (its dotted path, e.g.
// "limits.max_file_size") and an environment variable (IDESERVER_ plus the
// path upper-cased with dots as underscores). A Config from LoadConfig is
// validated and normalised; it is not safe to modify while other goroutines
// read it.
type Config struct {
	// Addr is the listen address host:port; port 0 picks a free port. An
	// empty host listens on every interface. Default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// Data is the state directory, absolute after loading ("~/" expanded).
	// Default $XDG_DATA_HOME/ideserver, else ~/.local/share/ideserver.
	Data string `yaml:"data"`
	// PublicURL is the server's own origin behind a reverse proxy,
	// normalised to scheme://host[:port] (no path, default port dropped).
	// Optional; HostsFor adds its host to the answered Host headers.
	PublicURL string `yaml:"public_url"`
	// AllowedOrigins are extra browser origins (embedding portals), each
	// normalised to scheme://host[:port], allowed for WebSockets, CSRF and
	// CSP frame-ancestors. The server's own origin is always allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts are the Host headers answered (host[:port], lower case).
	// Empty means derived from the bound address: use HostsFor, not this
	// field, to get the effective list.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Token is the fixed credential of the local user (like --token);
	// empty means one is generated on first start. Never log it: see
	// Redacted.
	Token string `yaml:"token"`
	// Server holds settings of the HTTP edge.
	Server struct {
		// TrustedProxies are CIDRs (or single addresses) of reverse
		// proxies whose X-Forwarded-For and Forwarded headers name the
		// client, for per-client limits and logs. Default none: the
		// headers are ignored. Normalised to CIDR strings after loading.
		TrustedProxies []string `yaml:"trusted_proxies"`
	} `yaml:"server"`
	// TLS, when both files are set, serves HTTPS. Both or neither.
	TLS struct {
		CertFile string `yaml:"cert_file"` // PEM certificate chain, absolute after loading
		KeyFile  string `yaml:"key_file"`  // PEM private key, absolute after loading
	} `yaml:"tls"`
	Log struct {
		Level  string `yaml:"level"`  // debug|info|warn|error, default info
		Format string `yaml:"format"` // json|text, default json
	} `yaml:"log"`
	Auth struct {
		// JWT configures portal-signed tokens; at most one of the key
		// files. The files exist and are readable after loading; parsing
		// their content is the auth package's job.
		JWT struct {
			HMACSecretFile string `yaml:"hmac_secret_file"` // HS256 secret (file content, trimmed; at least 32 bytes)
			PublicKeyFile  string `yaml:"public_key_file"`  // RS256/ES256 PEM public key
			Audience       string `yaml:"audience"`         // required "aud" when set
			Issuer         string `yaml:"issuer"`           // required "iss" when set
		} `yaml:"jwt"`
		// Login configures browser logins (the cookie POST /auth/session
		// sets); its key is still "session".
		Login struct {
			// SameSite is lax|strict|none, default lax; none requires TLS
			// or an https public_url.
			SameSite string   `yaml:"same_site"`
			TTL      Duration `yaml:"ttl"` // login lifetime, default 168h
		} `yaml:"session"`
	} `yaml:"auth"`
	Limits struct {
		MaxFileSize      ByteSize `yaml:"max_file_size"`           // default 32MiB: largest file read or written through the API
		MaxRequestBody   ByteSize `yaml:"max_request_body"`        // default 1MiB: JSON request bodies
		MaxStateSize     ByteSize `yaml:"max_state_size"`          // default 1MiB: workspace UI state
		MaxWSMessage     ByteSize `yaml:"max_ws_message"`          // default 1MiB: largest WebSocket message read
		MaxWorkspaces    int      `yaml:"max_workspaces_per_user"` // default 100
		MaxWebSockets    int      `yaml:"max_websockets_per_user"` // default 64
		SearchMaxResults int      `yaml:"search_max_results"`      // default 1000
		// MaxWatches bounds the inotify watches of all workspaces
		// together, MaxTenantWatches those of one tenant's; directories
		// over either are polled (SBX-10). 0: half the kernel's
		// fs.inotify.max_user_watches, and a quarter of MaxWatches.
		MaxWatches       int `yaml:"max_watches"`            // default 0 (automatic)
		MaxTenantWatches int `yaml:"max_watches_per_tenant"` // default 0 (automatic)
	} `yaml:"limits"`
	Metrics struct {
		RequireAuth bool `yaml:"require_auth"` // default false: /metrics is public
	} `yaml:"metrics"`
	// Go is the Go tooling environment passed to every tenant process.
	Go struct {
		// Root is GOROOT for tenant processes; empty means the one of the
		// go command on the server's PATH (`go env GOROOT`).
		Root    string `yaml:"root"`
		Proxy   string `yaml:"proxy"`   // GOPROXY, default "https://proxy.golang.org,direct"
		SumDB   string `yaml:"sumdb"`   // GOSUMDB, default "" (the go command's: sum.golang.org)
		Private string `yaml:"private"` // GOPRIVATE
		NoSumDB string `yaml:"nosumdb"` // GONOSUMDB
		Flags   string `yaml:"flags"`   // GOFLAGS
		// ModuleCache shares the module versions users' builds download:
		// the server fetches each once (as @module-cache, through Proxy,
		// checked against SumDB) into a cache every user's go command
		// reads first, read-only (DATA/cache/gomodcache). Modules that
		// Private matches stay in each user's own module cache.
		ModuleCache bool `yaml:"module_cache"` // default true
		// ModuleFetchTimeout bounds one download of the shared module
		// cache's fetcher (1s to 1h).
		ModuleFetchTimeout Duration `yaml:"module_fetch_timeout"` // default 2m
		// ModuleCacheMaxSize: once the shared module cache takes this much
		// disk, nothing more is added (0: no bound).
		ModuleCacheMaxSize ByteSize `yaml:"module_cache_max_size"` // default 20GiB
		// PrefetchModules are module versions (path@version) fetched into
		// the shared module cache at start, in the background.
		PrefetchModules []string `yaml:"prefetch_modules"` // default []
		// Prebuild builds PrebuildPackages into the build cache users
		// share read-only, in the background at start, with the flags
		// their builds, vet, tests, gopls and debug builds use; /readyz
		// waits for it. Off, users' builds start from their own cache
		// alone, reading only what an earlier start prepared.
		Prebuild bool `yaml:"prebuild"` // default true
		// PrebuildPackages are the go command patterns it builds.
		PrebuildPackages []string `yaml:"prebuild_packages"` // default [std]
		// PrebuildRace also prebuilds with -race (debug sessions may ask
		// for it); it about doubles the prebuild's time and size.
		PrebuildRace bool `yaml:"prebuild_race"` // default false
	} `yaml:"go"`
	// Feature sections; each type, its defaults and its checks live in the
	// feature's own config_<feature>.go.
	Terminal   TerminalConfig   `yaml:"terminal"`
	LSP        LSPConfig        `yaml:"lsp"`
	DAP        DAPConfig        `yaml:"dap"`
	Playground PlaygroundConfig `yaml:"playground"`
	Isolation  IsolationConfig  `yaml:"isolation"`
	// ShutdownTimeout bounds graceful shutdown, default 10s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// ErrUnknownKey is wrapped by the KeyError for a YAML key that Config does
// not have.
var ErrUnknownKey = errors.New("unknown key")

// KeyError is one bad configuration key. LoadConfig returns these, joined
// with errors.Join when there are several; use errors.As to inspect them.
type KeyError struct {
	Key    string // dotted YAML path, e.g. "limits.max_file_size"
	Source string // "line 7", "IDESERVER_ADDR" or "--addr"; empty for checks after merging
	Err    error  // what is wrong with the value
}

// Error reads `config: limits.max_file_size: "12XB" is not a size (line 7)`
// or `config: unknown key "adr" (line 3)`.
func (e *KeyError) Error() string {
	src := ""
	if e.Source != "" {
		src = " (" + e.Source + ")"
	}
	if errors.Is(e.Err, ErrUnknownKey) {
		return fmt.Sprintf("config: unknown key %q%s", e.Key, src)
	}
	return "config: " + e.Key + ": " + e.Err.Error() + src
}

// Unwrap returns e.Err.
func (e *KeyError) Unwrap() error { return e.Err }

// configFlag is one command-line flag and the key it sets. A bool flag
// takes no value (--insecure-no-isolation) and sets a bool key.
type configFlag struct {
	name, key, usage string
	bool             bool
}

// configFlags lists each flag and the key it sets ("config" is handled
// apart).
func configFlags() []configFlag {
	return []configFlag{
		{"addr", "addr", "listen `HOST:PORT`; port 0 picks a free port (default 127.0.0.1:8080)", false},
		{"data", "data", "state `DIR` (default $XDG_DATA_HOME/ideserver, else ~/.local/share/ideserver)", false},
		{"token", "token", "fixed `TOKEN` of the local user (default: generated on first start)", false},
		{"public-url", "public_url", "the server's own origin behind a proxy, e.g. https://ide.example.com", false},
		{"log-level", "log.level", "`LEVEL`: debug, info, warn or error (default info)", false},
		{"insecure-no-isolation", "isolation.insecure_no_isolation", "serve several tenants (portal JWTs, more than the local tenant) without isolating their processes", true},
	}
}

// LoadConfig builds the Config from, in increasing precedence: defaults, the
// YAML file (path from --config or IDESERVER_CONFIG; none is fine when not
// given, but a given file that does not exist is an error), IDESERVER_*
// environment variables, and flags. An empty environment variable counts as
// unset, as does a YAML null (e.g. "data:" with no value).
//
// args are the command-line arguments after the program name (and after a
// subcommand name, if any); positional arguments are an error. getenv is
// os.Getenv in main, injected for tests; it is also asked for HOME and
// XDG_DATA_HOME. Flag errors and usage (-h) go to stderr; -h returns
// flag.ErrHelp.
//
// It returns a validated Config, or an error naming the bad key (one
// *KeyError per problem, joined), e.g.
// `config: limits.max_file_size: "12XB" is not a size (line 7)`. It checks
// that the TLS and JWT key files exist and are readable but does not parse
// them.
func LoadConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	fs := flag.NewFlagSet("ideserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration `FILE` (see configs/ideserver.example.yaml)")
	for _, f := range configFlags() {
		if f.bool {
			fs.Bool(f.name, false, f.usage)
		} else {
			fs.String(f.name, "", f.usage)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ideserver [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEvery flag has an IDESERVER_* environment variable (IDESERVER_ADDR, ...),\n"+
			"as has every key of the configuration file (IDESERVER_LIMITS_MAX_FILE_SIZE, ...).\n"+
			"Precedence: flags > environment > configuration file > defaults.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	keys := newKeyTable()
	c := defaultConfig()
	root := reflect.ValueOf(&c).Elem()

	path := *configPath
	if path == "" {
		path = getenv("IDESERVER_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(expandHome(path, getenv("HOME")))
		if err != nil {
			return nil, fmt.Errorf("config: read config file: %w", err)
		}
		if err := keys.decodeYAML(data, root); err != nil {
			return nil, err
		}
	}

	var errs []error
	for _, k := range keys.leaves {
		if s := getenv(k.env); s != "" {
			if err := setConfigValue(root.FieldByIndex(k.index), s); err != nil {
				errs = append(errs, &KeyError{Key: k.path, Source: k.env, Err: err})
			}
		}
	}
	fs.Visit(func(f *flag.Flag) {
		for _, cf := range configFlags() {
			if cf.name == f.Name {
				k := keys.byPath[cf.key]
				if err := setConfigValue(root.FieldByIndex(k.index), f.Value.String()); err != nil {
					errs = append(errs, &KeyError{Key: k.path, Source: "--" + f.Name, Err: err})
				}
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := c.validate(getenv); err != nil {
		return nil, err
	}
	return &c, nil
}

// defaultConfig returns the defaults, except Data, which depends on the
// environment and is filled in by validate when still empty.
func defaultConfig() Config {
	var c Config
	c.Addr = "127.0.0.1:8080"
	c.Log.Level = "info"
	c.Log.Format = "json"
	c.Auth.Login.SameSite = "lax"
	c.Auth.Login.TTL = Duration(168 * time.Hour)
	c.Limits.MaxFileSize = 32 * MiB
	c.Limits.MaxRequestBody = 1 * MiB
	c.Limits.MaxStateSize = 1 * MiB
	c.Limits.MaxWSMessage = 1 * MiB
	c.Limits.MaxWorkspaces = 100
	c.Limits.MaxWebSockets = 64
	c.Limits.SearchMaxResults = 1000
	c.Go.Proxy = "https://proxy.golang.org,direct"
	c.Go.Prebuild = true
	c.Go.ModuleCache = true
	c.Go.ModuleFetchTimeout = Duration(2 * time.Minute)
	c.Go.ModuleCacheMaxSize = 20 * GiB
	c.Go.PrebuildPackages = []string{"std"}
	c.ShutdownTimeout = Duration(10 * time.Second)
	c.Terminal = defaultTerminalConfig()
	c.LSP = defaultLSPConfig()
	c.DAP = defaultDAPConfig()
	c.Playground = defaultPlaygroundConfig()
	c.Isolation = defaultIsolationConfig()
	return c
}

// Redacted returns a copy of c safe to log: Token is "REDACTED" when set.
// Slices are copied, so the result shares nothing with c.
func (c *Config) Redacted() Config {
	r := *c
	r.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	r.AllowedHosts = slices.Clone(c.AllowedHosts)
	r.Server.TrustedProxies = slices.Clone(c.Server.TrustedProxies)
	if r.Token != "" {
		r.Token = "REDACTED"
	}
	return r
}

// configView is Config without methods, so logging it does not recurse.
type configView Config

// LogValue makes slog log the redacted configuration, so a Config passed
// to a logger never shows the token.
func (c Config) LogValue() slog.Value {
	return slog.AnyValue(configView(c.Redacted()))
}

// TLSEnabled reports whether the server serves HTTPS.
func (c *Config) TLSEnabled() bool { return c.TLS.CertFile != "" }

// LogLevel returns Log.Level as a slog.Level (info if unknown).
func (c *Config) LogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// keyTable lists Config's keys, found by walking its yaml tags with reflect.
type keyTable struct {
	leaves []configKey
	byPath map[string]configKey
	groups map[string]bool // paths of nested structs ("auth", "auth.jwt")
}

// configKey is one leaf of Config.
type configKey struct {
	path  string // "limits.max_file_size"
	env   string // "IDESERVER_LIMITS_MAX_FILE_SIZE"
	index []int  // for reflect.Value.FieldByIndex from Config
}

// newKeyTable walks Config. It panics on a field without a yaml tag, of an
// unsupported type, or whose environment name collides: programmer errors
// that every test run would catch.
func newKeyTable() *keyTable {
	t := &keyTable{byPath: map[string]configKey{}, groups: map[string]bool{}}
	envs := map[string]string{"IDESERVER_CONFIG": "--config"}
	var walk func(typ reflect.Type, prefix string, index []int)
	walk = func(typ reflect.Type, prefix string, index []int) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				panic("config: field " + f.Name + " has no yaml key")
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct {
				t.groups[path] = true
				walk(f.Type, path, idx)
				continue
			}
			if !settable(f.Type) {
				panic("config: unsupported type for " + path)
			}
			env := "IDESERVER_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
			if other, dup := envs[env]; dup {
				panic("config: " + path + " and " + other + " share " + env)
			}
			envs[env] = path
			k := configKey{path: path, env: env, index: idx}
			t.leaves = append(t.leaves, k)
			t.byPath[path] = k
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return t
}

// decodeYAML applies a YAML document to the Config at root. It walks the
// node tree itself rather than decoding with Decoder.KnownFields(true): the
// same strictness (unknown and repeated keys are errors with their line),
// but every error names the full dotted key, and every leaf is parsed like
// its environment variable, so the file and the environment accept the
// same values. (Config still decodes with KnownFields; the tests check the
// example file that way too.)
func (t *keyTable) decodeYAML(data []byte, root reflect.Value) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file
		}
		return fmt.Errorf("config: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return errors.New("config: the file must hold one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return errors.New("config: the file must hold one YAML document")
	}
	return t.decodeMapping(doc.Content[0], root, "")
}

func (t *keyTable) decodeMapping(n *yaml.Node, root reflect.Value, prefix string) error {
	n = yamlDeref(n)
	if yamlIsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		key := prefix
		if key == "" {
			key = "(top level)"
		}
		return &KeyError{Key: key, Source: yamlLine(n), Err: errors.New("must be a mapping of keys")}
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		path := kn.Value
		if prefix != "" {
			path = prefix + "." + kn.Value
		}
		if first, dup := seen[kn.Value]; dup {
			errs = append(errs, &KeyError{Key: path, Source: yamlLine(kn), Err: fmt.Errorf("set twice (first on line %d)", first)})
			continue
		}
		seen[kn.Value] = kn.Line
		if t.groups[path] && kn.Kind == yaml.ScalarNode {
			if err := t.decodeMapping(vn, root, path); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		k, ok := t.byPath[path]
		if !ok || kn.Kind != yaml.ScalarNode {
			errs = append(errs, &KeyError{Key: path, Source: yamlLine(kn), Err: ErrUnknownKey})
			continue
		}
		if err := decodeLeaf(vn, root.FieldByIndex(k.index)); err != nil {
			errs = append(errs, &KeyError{Key: path, Source: yamlLine(vn), Err: err})
		}
	}
	return errors.Join(errs...)
}

// decodeLeaf sets v from a scalar node, or a sequence of scalars for a
// list. Null leaves v unchanged.
func decodeLeaf(n *yaml.Node, v reflect.Value) error {
	n = yamlDeref(n)
	if yamlIsNull(n) {
		return nil
	}
	if v.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			return errors.New("must be a list")
		}
		var items []string
		for _, item := range n.Content {
			item = yamlDeref(item)
			if item.Kind != yaml.ScalarNode || yamlIsNull(item) {
				return errors.New("must be a list of strings")
			}
			items = append(items, item.Value)
		}
		v.Set(reflect.ValueOf(items))
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a single value, not a list or mapping")
	}
	return setConfigValue(v, n.Value)
}

func yamlDeref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func yamlIsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func yamlLine(n *yaml.Node) string { return fmt.Sprintf("line %d", n.Line) }

// validateGoModules checks go.sumdb and the shared module cache's keys.
func (c *Config) validateGoModules(bad func(key, format string, args ...any)) {
	if strings.IndexFunc(c.Go.SumDB, unicode.IsControl) >= 0 {
		bad("go.sumdb", "must not contain control characters or newlines")
	}
	between(bad, "go.module_fetch_timeout", time.Duration(c.Go.ModuleFetchTimeout), time.Second, time.Hour, "1s and 1h")
	between(bad, "go.module_cache_max_size", c.Go.ModuleCacheMaxSize, 0, 1<<50, "0 (no bound) and 1PiB")
	for _, mv := range c.Go.PrefetchModules {
		if _, err := parseModuleVersion(mv); err != nil {
			bad("go.prefetch_modules", "%v", err)
		}
	}
}

// parseModuleVersion reads "path@version" with a canonical version.
func parseModuleVersion(s string) (module.Version, error) {
	p, v, ok := strings.Cut(s, "@")
	if !ok || module.Check(p, v) != nil || module.CanonicalVersion(v) != v {
		return module.Version{}, fmt.Errorf("%q is not a module path@version with a full semantic version", s)
	}
	return module.Version{Path: p, Version: v}, nil
}
