package main

import "time"

// LSPConfig configures the language server (the `lsp:` section).
type LSPConfig struct {
	// GoplsPath is the gopls binary to run; empty means the pinned version,
	// built once into the data directory.
	GoplsPath string `yaml:"gopls_path"` // default ""
	// IdleTimeout stops a connection's gopls after that long without a
	// client message; the next message restarts it (and replays the
	// session).
	IdleTimeout Duration `yaml:"idle_timeout"` // default 10m
	// MaxInFlight caps a connection's requests awaiting an answer.
	MaxInFlight int `yaml:"max_in_flight"` // default 64
	// MessageRate and MessageBurst bound client messages per connection
	// (a token bucket; over the rate, reading waits).
	MessageRate  int `yaml:"message_rate"`  // default 200 per second
	MessageBurst int `yaml:"message_burst"` // default 400
	// MaxRestarts within RestartWindow end a connection whose gopls keeps
	// crashing.
	MaxRestarts   int      `yaml:"max_restarts"`   // default 5
	RestartWindow Duration `yaml:"restart_window"` // default 5m
}

func defaultLSPConfig() LSPConfig {
	return LSPConfig{
		IdleTimeout:   Duration(10 * time.Minute),
		MaxInFlight:   64,
		MessageRate:   200,
		MessageBurst:  400,
		MaxRestarts:   5,
		RestartWindow: Duration(5 * time.Minute),
	}
}

// validate reports bad keys of the section through bad(key, format, args).
func (c *LSPConfig) validate(bad func(key, format string, args ...any)) {
	if c.GoplsPath != "" {
		if err := readableFile(c.GoplsPath); err != nil {
			bad("lsp.gopls_path", "%v", err)
		}
	}
	if c.IdleTimeout < Duration(time.Second) {
		bad("lsp.idle_timeout", "must be at least 1s, got %s", c.IdleTimeout)
	}
	between(bad, "lsp.max_in_flight", c.MaxInFlight, 1, 10000, "1 and 10000")
	between(bad, "lsp.message_rate", c.MessageRate, 1, 1000000, "1 and 1000000")
	between(bad, "lsp.message_burst", c.MessageBurst, 1, 1000000, "1 and 1000000")
	between(bad, "lsp.max_restarts", c.MaxRestarts, 1, 1000, "1 and 1000")
	if c.RestartWindow < Duration(time.Second) {
		bad("lsp.restart_window", "must be at least 1s, got %s", c.RestartWindow)
	}
}
