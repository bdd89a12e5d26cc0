package main

import "time"

// TerminalConfig configures terminals (the `terminal:` section).
type TerminalConfig struct {
	// IdleTimeout ends a terminal no client has attached to for this long.
	IdleTimeout Duration `yaml:"idle_timeout"` // default 1h
	// MaxPerWorkspace and MaxPerTenant cap running terminals.
	MaxPerWorkspace int `yaml:"max_per_workspace"` // default 10
	MaxPerTenant    int `yaml:"max_per_tenant"`    // default 50
	// Scrollback is the output replayed on attach.
	Scrollback ByteSize `yaml:"scrollback"` // default 256KiB
	// MaxInput is the largest message a client may send.
	MaxInput ByteSize `yaml:"max_input"` // default 64KiB
	// InputRate is what one client may send per second.
	InputRate ByteSize `yaml:"input_rate"` // default 1MiB
}

func defaultTerminalConfig() TerminalConfig {
	return TerminalConfig{
		IdleTimeout:     Duration(time.Hour),
		MaxPerWorkspace: 10,
		MaxPerTenant:    50,
		Scrollback:      256 * KiB,
		MaxInput:        64 * KiB,
		InputRate:       MiB,
	}
}

// validate reports bad keys of the section through bad(key, format, args).
func (c *TerminalConfig) validate(bad func(key, format string, args ...any)) {
	if c.IdleTimeout < Duration(time.Minute) {
		bad("terminal.idle_timeout", "must be at least 1m")
	}
	between(bad, "terminal.max_per_workspace", c.MaxPerWorkspace, 1, 1000, "1 and 1000")
	between(bad, "terminal.max_per_tenant", c.MaxPerTenant, 1, 10000, "1 and 10000")
	between(bad, "terminal.scrollback", c.Scrollback, 256*KiB, 64*MiB, "256KiB and 64MiB")
	between(bad, "terminal.max_input", c.MaxInput, KiB, 16*MiB, "1KiB and 16MiB")
	between(bad, "terminal.input_rate", c.InputRate, 4*KiB, GiB, "4KiB and 1GiB")
}
