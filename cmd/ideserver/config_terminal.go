package main

import "time"

// TerminalConfig configures terminals (the `terminal:` section).
type TerminalConfig struct {
	// IdleTimeout ends a terminal no client has attached to for this long.
	IdleTimeout Duration `yaml:"idle_timeout"` // default 1h
}

func defaultTerminalConfig() TerminalConfig {
	return TerminalConfig{IdleTimeout: Duration(time.Hour)}
}

// validate reports bad keys of the section through bad(key, format, args).
func (c *TerminalConfig) validate(bad func(key, format string, args ...any)) {
	if c.IdleTimeout < Duration(time.Minute) {
		bad("terminal.idle_timeout", "must be at least 1m")
	}
}
