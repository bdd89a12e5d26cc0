package main

// LSPConfig configures the language server (the `lsp:` section).
type LSPConfig struct {
	// GoplsPath is the gopls binary to run; empty means the pinned version,
	// built once into the data directory.
	GoplsPath string `yaml:"gopls_path"` // default ""
}

func defaultLSPConfig() LSPConfig { return LSPConfig{} }

// validate reports bad keys of the section through bad(key, format, args).
func (c *LSPConfig) validate(bad func(key, format string, args ...any)) {
	if c.GoplsPath != "" {
		if err := readableFile(c.GoplsPath); err != nil {
			bad("lsp.gopls_path", "%v", err)
		}
	}
}
