package main

import (
	"errors"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/sandbox"
)

func TestIsolationConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Run("defaults", func(t *testing.T) {
		c, err := LoadConfig(nil, envFunc(baseEnv()), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := IsolationConfig{Mode: "auto", UIDFirst: 200000, UIDCount: 65536, UIDLockDir: "/run/ideserver",
			Limits:  IsolationLimits{Memory: 2 * GiB, Pids: 512, CPU: 2000, FileSize: GiB, NoFile: 4096, Tmp: 512 * MiB},
			Network: IsolationNetwork{Terminal: "outbound", Gopls: "outbound", Dlv: "outbound"}}
		if !reflect.DeepEqual(c.Isolation, want) {
			t.Errorf("isolation = %+v, want %+v", c.Isolation, want)
		}
	})
	t.Run("file, environment and flag", func(t *testing.T) {
		yml := "isolation:\n  mode: BWRAP\n  uid_first: 300000\n  uid_count: 1000\n  bwrap_path: /opt/bwrap\n" +
			"  limits:\n    memory: 512MiB\n    pids: 0\n    cpu: 1500\n    file_size: 64MiB\n    nofile: 1024\n    tmp: 64MiB\n" +
			"  network:\n    terminal: None\n    gopls: host\n"
		p := writeFile(t, dir, "iso.yaml", yml)
		c, err := LoadConfig([]string{"--config", p}, envFunc(baseEnv("IDESERVER_ISOLATION_LIMITS_PIDS", "64")), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := IsolationConfig{Mode: "bwrap", UIDFirst: 300000, UIDCount: 1000, UIDLockDir: "/run/ideserver", BwrapPath: "/opt/bwrap",
			Limits:  IsolationLimits{Memory: 512 * MiB, Pids: 64, CPU: 1500, FileSize: 64 * MiB, NoFile: 1024, Tmp: 64 * MiB},
			Network: IsolationNetwork{Terminal: "none", Gopls: "host", Dlv: "outbound"}}
		if !reflect.DeepEqual(c.Isolation, want) {
			t.Errorf("isolation = %+v, want %+v", c.Isolation, want)
		}
		// SBX-08: isolation.network.allow from the environment, comma-separated.
		ce, err := LoadConfig(nil, envFunc(baseEnv("IDESERVER_ISOLATION_NETWORK_ALLOW", "10.1.0.0/16, 192.168.1.10")), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantAllow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.1.10/32")}
		if got := ce.Isolation.Network.allowPrefixes(); !slices.Equal(got, wantAllow) {
			t.Errorf("network allow = %v, want %v", got, wantAllow)
		}
		wantNet := map[string]sandbox.Network{"terminal": sandbox.NetworkNone, "gopls": sandbox.NetworkFull, "dlv": sandbox.NetworkOutbound}
		if got := c.Isolation.Network.networks(); !maps.Equal(got, wantNet) {
			t.Errorf("networks = %v, want %v", got, wantNet)
		}
		for _, tt := range []struct {
			name string
			args []string
			env  []string
		}{
			{"flag", []string{"--insecure-no-isolation"}, nil},
			{"environment", nil, []string{"IDESERVER_ISOLATION_INSECURE_NO_ISOLATION", "true"}},
		} {
			c, err := LoadConfig(tt.args, envFunc(baseEnv(tt.env...)), nil)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if !c.Isolation.InsecureNoIsolation {
				t.Errorf("%s: insecure_no_isolation not set", tt.name)
			}
		}
	})
	tests := []struct {
		name string
		yaml string
		key  string // "" means valid
		msg  string
	}{
		{"mode unknown", "mode: docker", "isolation.mode", `"docker" is not auto, bwrap or none`},
		{"mode none", "mode: none", "", ""},
		{"uid_first low", "uid_first: 0", "isolation.uid_first", "between 1000 and"},
		{"uid_count zero", "uid_count: 0", "isolation.uid_count", "between 1 and"},
		{"uid range overflows", "uid_first: 2147483000\n  uid_count: 1000", "isolation.uid_count", "at most 2147483647"},
		{"uid range at the top", "uid_first: 2147482648\n  uid_count: 1000", "", ""},
		{"memory too small", "limits:\n    memory: 1MiB", "isolation.limits.memory", "64MiB and 1TiB"},
		{"memory off", "limits:\n    memory: 0", "", ""},
		{"pids too few", "limits:\n    pids: 5", "isolation.limits.pids", "32 and 1000000"},
		{"pids negative", "limits:\n    pids: -1", "isolation.limits.pids", "got -1"},
		{"cpu off", "limits:\n    cpu: 0", "", ""},
		{"cpu too little", "limits:\n    cpu: 1", "isolation.limits.cpu", "10 and 1000000"},
		{"file_size too small", "limits:\n    file_size: 1KiB", "isolation.limits.file_size", "1MiB and 1TiB"},
		{"nofile too few", "limits:\n    nofile: 3", "isolation.limits.nofile", "64 and 1048576"},
		{"tmp too small", "limits:\n    tmp: 1KiB", "isolation.limits.tmp", "1MiB and 1TiB"},
		{"network unknown", "network:\n    dlv: full", "isolation.network.dlv", `"full" is not none, outbound or host`},
		{"insecure not bool", "insecure_no_isolation: maybe", "isolation.insecure_no_isolation", "not true or false"},
		// SBX-08: the egress allowlist.
		{"allow", "network:\n    allow: [10.1.0.0/16, 192.168.1.10, 169.254.169.254/32]", "", ""},
		{"allow not a CIDR", "network:\n    allow: [10.1.0.0/33]", "isolation.network.allow", `"10.1.0.0/33" is not a CIDR prefix`},
		{"allow a name", "network:\n    allow: [proxy.internal]", "isolation.network.allow", `"proxy.internal" is not a CIDR prefix`},
		{"allow host bits", "network:\n    allow: [10.1.2.3/16]", "isolation.network.allow", "did you mean 10.1.0.0/16?"},
		{"allow IPv6", "network:\n    allow: [fd00::/8]", "isolation.network.allow", "only IPv4"},
		{"allow slirp's own network", "network:\n    allow: [10.0.2.3]", "isolation.network.allow", "inside the sandbox's own network"},
		{"allow not a list", "network:\n    allow: {a: b}", "isolation.network.allow", "must be a list"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, dir, "case"+strconv.Itoa(i)+".yaml", "isolation:\n  "+tt.yaml+"\n")
			_, err := LoadConfig([]string{"--config", p}, envFunc(baseEnv()), nil)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			kes := keyErrors(err)
			if len(kes) != 1 || kes[0].Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v; want one error on %s containing %q", err, tt.key, tt.msg)
			}
		})
	}
}

func TestDecideIsolation(t *testing.T) {
	t.Parallel()
	const (
		bwrap = sandbox.IsolationBwrap
		none  = sandbox.IsolationNone
	)
	tests := []struct {
		mode                     string
		multi, bwrapOK, insecure bool
		want                     sandbox.Isolation // "" means refused
		warn                     bool
		msg                      string // in the refusal
	}{
		{mode: "bwrap", bwrapOK: true, want: bwrap},
		{mode: "bwrap", multi: true, bwrapOK: true, want: bwrap},
		{mode: "bwrap", msg: "isolation.mode is bwrap but bubblewrap does not work"},
		{mode: "bwrap", insecure: true, msg: "bubblewrap does not work"},
		{mode: "bwrap", multi: true, insecure: true, msg: "bubblewrap does not work"},
		{mode: "auto", bwrapOK: true, want: bwrap},
		{mode: "auto", multi: true, bwrapOK: true, want: bwrap},
		{mode: "auto", want: none, warn: true},
		{mode: "auto", insecure: true, want: none, warn: true},
		{mode: "auto", multi: true, msg: "--insecure-no-isolation"},
		{mode: "auto", multi: true, insecure: true, want: none, warn: true},
		{mode: "none", want: none},
		{mode: "none", bwrapOK: true, want: none},
		{mode: "none", insecure: true, want: none},
		{mode: "none", multi: true, msg: "set isolation.mode to auto or bwrap, or pass --insecure-no-isolation"},
		{mode: "none", multi: true, bwrapOK: true, msg: "multi-tenant"},
		{mode: "none", multi: true, insecure: true, want: none, warn: true},
	}
	for _, tt := range tests {
		name := tt.mode + " multi=" + strconv.FormatBool(tt.multi) + " bwrap_ok=" + strconv.FormatBool(tt.bwrapOK) + " insecure=" + strconv.FormatBool(tt.insecure)
		t.Run(name, func(t *testing.T) {
			got, warn, err := decideIsolation(isolationFacts{Mode: tt.mode, MultiTenant: tt.multi, BwrapOK: tt.bwrapOK, Insecure: tt.insecure, Problem: "no bwrap here"})
			if tt.want == "" {
				if !errors.Is(err, errNoIsolation) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("decideIsolation = %q, %v; want a refusal containing %q", got, err, tt.msg)
				}
				if tt.mode != "none" && !tt.bwrapOK && !strings.Contains(err.Error(), "no bwrap here") {
					t.Errorf("refusal %q does not say why bubblewrap does not work", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("decideIsolation = %q, %v; want %q", got, err, tt.want)
			}
			if (warn != "") != tt.warn {
				t.Errorf("warning = %q, want one: %v", warn, tt.warn)
			}
		})
	}
	if _, _, err := decideIsolation(isolationFacts{Mode: "docker"}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
