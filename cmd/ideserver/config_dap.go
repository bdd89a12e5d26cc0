package main

// DAPConfig configures the debugger (the `dap:` section).
type DAPConfig struct {
	// DlvPath is the dlv binary to run; empty means the pinned version,
	// built once into the data directory.
	DlvPath string `yaml:"dlv_path"` // default ""
}

func defaultDAPConfig() DAPConfig { return DAPConfig{} }

// validate reports bad keys of the section through bad(key, format, args).
func (c *DAPConfig) validate(bad func(key, format string, args ...any)) {
	if c.DlvPath != "" {
		if err := readableFile(c.DlvPath); err != nil {
			bad("dap.dlv_path", "%v", err)
		}
	}
}
