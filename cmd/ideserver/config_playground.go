package main

// PlaygroundConfig configures sharing and the Go Playground compatible
// endpoints (the `playground:` section).
type PlaygroundConfig struct {
	// Enabled serves /compile, /fmt, /vet, /share and /p/ publicly.
	Enabled bool `yaml:"enabled"` // default true
}

func defaultPlaygroundConfig() PlaygroundConfig { return PlaygroundConfig{Enabled: true} }

// validate reports bad keys of the section through bad(key, format, args).
func (c *PlaygroundConfig) validate(bad func(key, format string, args ...any)) {}
