package main

import (
	"strings"
	"time"
)

// PlaygroundConfig configures sharing and the Go Playground compatible
// endpoints (the `playground:` section).
type PlaygroundConfig struct {
	// Enabled serves /compile, /fmt, /vet, /share and /p/ publicly.
	Enabled bool `yaml:"enabled"` // default true
	// RunTimeout is the wall-clock limit of a program.
	RunTimeout Duration `yaml:"run_timeout"` // default 10s
	// BuildTimeout is the wall-clock limit of go build and go vet.
	BuildTimeout Duration `yaml:"build_timeout"` // default 60s
	// MaxOutput is the program output kept; the program is stopped beyond.
	MaxOutput ByteSize `yaml:"max_output"` // default 1MiB
	// MemoryLimit bounds a program's data memory (RLIMIT_DATA, GOMEMLIMIT).
	MemoryLimit ByteSize `yaml:"memory_limit"` // default 256MiB
	// MaxConcurrent bounds builds and runs at once; 0 means the CPU count.
	MaxConcurrent int `yaml:"max_concurrent"` // default 0
	// MaxPerClient bounds them per tenant or address; 0 means half of
	// max_concurrent.
	MaxPerClient int `yaml:"max_per_client"` // default 0
	// MaxQueue bounds requests waiting for a slot; beyond, 429.
	MaxQueue int `yaml:"max_queue"` // default 64
	// MaxShareSize bounds the files of a workspace share snapshot.
	MaxShareSize ByteSize `yaml:"max_share_size"` // default 4MiB
	// ShareRate bounds the new snippets an anonymous address may store
	// with POST /share per minute (a token bucket as deep); beyond, 429.
	// Repeats of a stored snippet are free.
	ShareRate int `yaml:"share_rate"` // default 30
	// Prebuild builds the cache program and CachePackages into the
	// read-only build cache runs share, in the background at start. Off,
	// runs build the packages they import themselves (slower), reading
	// only what an earlier start prepared.
	Prebuild bool `yaml:"prebuild"` // default true
	// CachePackages are the go command patterns the prebuild builds;
	// empty means none.
	CachePackages []string `yaml:"cache_packages"` // default [std]
	// Modules lets programs import third-party modules: the server
	// resolves and fetches them (through go.proxy, checksums verified)
	// into the shared module cache, which builds read offline. It needs
	// go.module_cache; off, programs have the standard library only.
	Modules bool `yaml:"modules"` // default true
	// MaxModules bounds the module versions one program may need.
	MaxModules int `yaml:"max_modules"` // default 20
	// MaxModuleBytes bounds the bytes of one program's module zips.
	MaxModuleBytes ByteSize `yaml:"max_module_bytes"` // default 100MiB
	// ModuleTimeout bounds resolving and fetching one program's modules.
	ModuleTimeout Duration `yaml:"module_timeout"` // default 60s
}

func defaultPlaygroundConfig() PlaygroundConfig {
	return PlaygroundConfig{
		Enabled:      true,
		RunTimeout:   Duration(10 * time.Second),
		BuildTimeout: Duration(60 * time.Second),
		MaxOutput:    MiB,
		MemoryLimit:  256 * MiB,
		MaxQueue:     64,
		MaxShareSize: 4 * MiB,
		ShareRate:    30,

		Prebuild:      true,
		CachePackages: []string{"std"},

		Modules:        true,
		MaxModules:     20,
		MaxModuleBytes: 100 * MiB,
		ModuleTimeout:  Duration(60 * time.Second),
	}
}

// validate reports bad keys of the section through bad(key, format, args).
func (c *PlaygroundConfig) validate(bad func(key, format string, args ...any)) {
	between(bad, "playground.run_timeout", c.RunTimeout, Duration(100*time.Millisecond), Duration(10*time.Minute), "100ms and 10m")
	between(bad, "playground.build_timeout", c.BuildTimeout, Duration(time.Second), Duration(30*time.Minute), "1s and 30m")
	between(bad, "playground.max_output", c.MaxOutput, KiB, GiB, "1KiB and 1GiB")
	if c.MemoryLimit < 16*MiB {
		bad("playground.memory_limit", "must be at least 16MiB")
	}
	if c.MaxConcurrent < 0 || c.MaxPerClient < 0 {
		bad("playground.max_concurrent", "max_concurrent and max_per_client must not be negative")
	}
	if c.MaxQueue < 1 {
		bad("playground.max_queue", "must be at least 1")
	}
	between(bad, "playground.max_share_size", c.MaxShareSize, KiB, GiB, "1KiB and 1GiB")
	between(bad, "playground.share_rate", c.ShareRate, 1, 1000000, "1 and 1000000")
	packagePatterns(bad, "playground.cache_packages", c.CachePackages)
	between(bad, "playground.max_modules", c.MaxModules, 1, 1000, "1 and 1000")
	between(bad, "playground.max_module_bytes", c.MaxModuleBytes, MiB, 10*GiB, "1MiB and 10GiB")
	between(bad, "playground.module_timeout", c.ModuleTimeout, Duration(time.Second), Duration(30*time.Minute), "1s and 30m")
}

// packagePatterns reports, under key, each of patterns that is not a go
// command package pattern (empty, a flag, or with white space).
func packagePatterns(bad func(key, format string, args ...any), key string, patterns []string) {
	for _, p := range patterns {
		if p == "" || strings.HasPrefix(p, "-") || strings.ContainsAny(p, " \t\n") {
			bad(key, "%q is not a package pattern", p)
		}
	}
}
