package main

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/ideserver/ideserver/sandbox"
)

// Isolation modes of the `isolation.mode` key.
const (
	isolationAuto  = "auto"  // bwrap when it works, else none if that is safe
	isolationBwrap = "bwrap" // bwrap or refuse to start
	isolationNone  = "none"  // no isolation (single-user only)
)

// IsolationConfig configures how tenant processes (terminals, gopls, dlv,
// builds and runs) are confined (the `isolation:` section). serve decides
// the mode in force from it with decideIsolation.
type IsolationConfig struct {
	// Mode is auto, bwrap or none. auto uses bubblewrap when it is
	// installed and passes the start-up self-test, else runs without
	// isolation if the deployment is single-user; bwrap refuses to start
	// without it; none never isolates.
	Mode string `yaml:"mode"` // default auto
	// UIDFirst and UIDCount are the host uids given to tenants, one each,
	// when the server runs as root. Not root: every tenant runs as the
	// server's uid.
	UIDFirst int `yaml:"uid_first"` // default 200000
	UIDCount int `yaml:"uid_count"` // default 65536
	// UIDLockDir holds the claims of this host's servers on their uid
	// ranges (in UIDLockDir/uids/): a server that gives tenants uids
	// refuses to start while another claims an overlapping range.
	UIDLockDir string `yaml:"uid_lock_dir"` // default /run/ideserver
	// BwrapPath is the bubblewrap executable; empty means the first of
	// /usr/bin/bwrap, /usr/local/bin/bwrap and /bin/bwrap.
	BwrapPath string `yaml:"bwrap_path"` // default ""
	// Limits bound tenant processes; the cgroup ones (memory, pids, cpu)
	// only where the host's cgroups allow.
	Limits IsolationLimits `yaml:"limits"`
	// Network is what each kind of workspace process may reach.
	// Playground builds and runs never have a network.
	Network IsolationNetwork `yaml:"network"`
	// InsecureNoIsolation lets a multi-tenant deployment (portal JWTs, or
	// more tenants than the local one) run without isolation. Flag
	// --insecure-no-isolation.
	InsecureNoIsolation bool `yaml:"insecure_no_isolation"` // default false
}

// IsolationLimits are the resource limits of isolated processes (the
// `isolation.limits:` section). Zero means no limit for Memory, Pids and
// CPU.
type IsolationLimits struct {
	Memory   ByteSize `yaml:"memory"`    // per workspace cgroup, default 2GiB
	Pids     int      `yaml:"pids"`      // tasks per workspace cgroup, default 512
	CPU      int      `yaml:"cpu"`       // thousandths of a core per workspace cgroup, default 2000
	FileSize ByteSize `yaml:"file_size"` // largest file a process may write (RLIMIT_FSIZE), default 1GiB
	NoFile   int      `yaml:"nofile"`    // open files per process (RLIMIT_NOFILE), default 4096
	Tmp      ByteSize `yaml:"tmp"`       // size of each process's own /tmp (a tmpfs), default 512MiB
}

// Values of the `isolation.network` keys.
const (
	networkNone     = "none"     // loopback only
	networkOutbound = "outbound" // outbound through slirp4netns; not the host's loopback
	networkHost     = "host"     // the host's network, loopback included
)

// IsolationNetwork is the network of each kind of workspace process with
// isolation (the `isolation.network:` section): none, outbound or host.
type IsolationNetwork struct {
	Terminal string `yaml:"terminal"` // shells; default outbound
	Gopls    string `yaml:"gopls"`    // the language server (go list may fetch modules); default outbound
	Dlv      string `yaml:"dlv"`      // the debugger, its builds and the program debugged; default outbound
	// Allow lists IPv4 ranges (CIDR, or a single address) an outbound
	// process may reach although they are denied by default: link-local
	// (cloud metadata), private ranges and the host's own addresses. For
	// a module proxy or Git host on a private address. Default: none.
	Allow []string `yaml:"allow"`
}

// allowPrefixes returns Allow parsed (after validate).
func (n IsolationNetwork) allowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range n.Allow {
		if p, err := parseAllowPrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseAllowPrefix parses one entry of isolation.network.allow: a CIDR
// prefix without host bits, or an address (a /32).
func parseAllowPrefix(s string) (netip.Prefix, error) {
	p, ok := parsePrefix(s)
	if !ok {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as 10.1.0.0/16 or an address", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has bits set past its prefix length; did you mean %s?", s, p.Masked())
	}
	if err := sandbox.CheckNetworkAllow(p); err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

// networks returns the sandbox networks by process kind.
func (n IsolationNetwork) networks() map[string]sandbox.Network {
	m := map[string]sandbox.Network{}
	for kind, v := range map[string]string{"terminal": n.Terminal, "gopls": n.Gopls, "dlv": n.Dlv} {
		switch v {
		case networkNone:
			m[kind] = sandbox.NetworkNone
		case networkOutbound:
			m[kind] = sandbox.NetworkOutbound
		case networkHost:
			m[kind] = sandbox.NetworkFull
		}
	}
	return m
}

func defaultIsolationConfig() IsolationConfig {
	return IsolationConfig{
		Mode:       isolationAuto,
		UIDFirst:   200000,
		UIDCount:   65536,
		UIDLockDir: "/run/ideserver",
		Limits: IsolationLimits{
			Memory:   2 * GiB,
			Pids:     512,
			CPU:      2000,
			FileSize: GiB,
			NoFile:   4096,
			Tmp:      512 * MiB,
		},
		Network: IsolationNetwork{Terminal: networkOutbound, Gopls: networkOutbound, Dlv: networkOutbound},
	}
}

// maxUID bounds the tenant uid range: uids are 32-bit, and the top of the
// range (nobody, -1) is kept clear.
const maxUID = 1<<31 - 1

// validate reports bad keys of the section through bad(key, format, args),
// lower-casing Mode and making BwrapPath absolute.
func (c *IsolationConfig) validate(bad func(key, format string, args ...any)) {
	c.Mode = strings.ToLower(c.Mode)
	switch c.Mode {
	case isolationAuto, isolationBwrap, isolationNone:
	default:
		bad("isolation.mode", "%q is not auto, bwrap or none", c.Mode)
	}
	between(bad, "isolation.uid_first", c.UIDFirst, 1000, maxUID, "1000 and 2147483647")
	between(bad, "isolation.uid_count", c.UIDCount, 1, 1<<24, "1 and 16777216")
	if c.UIDFirst >= 1000 && c.UIDCount >= 1 && c.UIDFirst > maxUID-c.UIDCount+1 {
		bad("isolation.uid_count", "uid_first + uid_count - 1 must be at most %d, got %d", maxUID, c.UIDFirst+c.UIDCount-1)
	}
	if c.UIDLockDir == "" {
		bad("isolation.uid_lock_dir", "must not be empty")
	} else if p, err := filepath.Abs(c.UIDLockDir); err != nil {
		bad("isolation.uid_lock_dir", "%v", err)
	} else {
		c.UIDLockDir = p
	}
	if c.BwrapPath != "" {
		if p, err := filepath.Abs(c.BwrapPath); err != nil {
			bad("isolation.bwrap_path", "%v", err)
		} else {
			c.BwrapPath = p
		}
	}
	l := c.Limits
	if l.Memory != 0 {
		between(bad, "isolation.limits.memory", l.Memory, 64*MiB, TiB, "64MiB and 1TiB (or 0: no limit)")
	}
	if l.Pids != 0 {
		between(bad, "isolation.limits.pids", l.Pids, 32, 1_000_000, "32 and 1000000 (or 0: no limit)")
	}
	if l.CPU != 0 {
		between(bad, "isolation.limits.cpu", l.CPU, 10, 1_000_000, "10 and 1000000 (or 0: no limit)")
	}
	between(bad, "isolation.limits.file_size", l.FileSize, MiB, TiB, "1MiB and 1TiB")
	between(bad, "isolation.limits.nofile", l.NoFile, 64, 1<<20, "64 and 1048576")
	between(bad, "isolation.limits.tmp", l.Tmp, MiB, TiB, "1MiB and 1TiB")
	for key, v := range map[string]*string{"terminal": &c.Network.Terminal, "gopls": &c.Network.Gopls, "dlv": &c.Network.Dlv} {
		*v = strings.ToLower(*v)
		switch *v {
		case networkNone, networkOutbound, networkHost:
		default:
			bad("isolation.network."+key, "%q is not none, outbound or host", *v)
		}
	}
	for _, s := range c.Network.Allow {
		if _, err := parseAllowPrefix(s); err != nil {
			bad("isolation.network.allow", "%v", err)
		}
	}
}
