package main

import "time"

// DAPConfig configures the debugger (the `dap:` section).
type DAPConfig struct {
	// DlvPath is the dlv binary to run; empty means the pinned version,
	// built once into the data directory.
	DlvPath string `yaml:"dlv_path"` // default ""
	// MaxSessionsPerWorkspace and MaxSessionsPerTenant bound concurrent
	// debug sessions.
	MaxSessionsPerWorkspace int `yaml:"max_sessions_per_workspace"` // default 2
	MaxSessionsPerTenant    int `yaml:"max_sessions_per_tenant"`    // default 8
	// MaxMessage bounds one DAP message from dlv.
	MaxMessage ByteSize `yaml:"max_message"` // default 16MiB
	// StartTimeout bounds starting dlv (and waiting for its build).
	StartTimeout Duration `yaml:"start_timeout"` // default 30s
}

func defaultDAPConfig() DAPConfig {
	return DAPConfig{
		MaxSessionsPerWorkspace: 2,
		MaxSessionsPerTenant:    8,
		MaxMessage:              16 * MiB,
		StartTimeout:            Duration(30 * time.Second),
	}
}

// validate reports bad keys of the section through bad(key, format, args).
func (c *DAPConfig) validate(bad func(key, format string, args ...any)) {
	if c.DlvPath != "" {
		if err := readableFile(c.DlvPath); err != nil {
			bad("dap.dlv_path", "%v", err)
		}
	}
	between(bad, "dap.max_sessions_per_workspace", c.MaxSessionsPerWorkspace, 1, 100, "1 and 100")
	between(bad, "dap.max_sessions_per_tenant", c.MaxSessionsPerTenant, 1, 10000, "1 and 10000")
	between(bad, "dap.max_message", c.MaxMessage, 64*KiB, 1024*MiB, "64KiB and 1GiB")
	between(bad, "dap.start_timeout", c.StartTimeout, Duration(time.Second), Duration(30*time.Minute), "1s and 30m")
}
