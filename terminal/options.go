package terminal

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for zero Options fields.
const (
	DefaultIdleTimeout     = time.Hour
	DefaultMaxPerWorkspace = 10
	DefaultMaxPerTenant    = 50
	DefaultScrollback      = 256 << 10
	DefaultMaxInput        = 64 << 10
	DefaultInputRate       = 1 << 20
	DefaultInputBurst      = 256 << 10
	DefaultCols            = 80
	DefaultRows            = 24
)

// Size bounds: a terminal is at least 1x1 and at most MaxCols x MaxRows.
const (
	MaxCols = 1000
	MaxRows = 1000
)

// Options configures a Manager. Zero fields take the defaults named.
type Options struct {
	// IdleTimeout ends a terminal no client has been attached to for this
	// long (DefaultIdleTimeout, 1h).
	IdleTimeout time.Duration
	// MaxPerWorkspace and MaxPerTenant cap running terminals
	// (DefaultMaxPerWorkspace 10, DefaultMaxPerTenant 50).
	MaxPerWorkspace int
	MaxPerTenant    int
	// Scrollback is the ring size in bytes, at least 256 KiB
	// (DefaultScrollback; smaller values are raised to it).
	Scrollback int
	// MaxInput is the largest client message in bytes (DefaultMaxInput,
	// 64 KiB); a larger one ends the attachment with ErrInputTooLarge.
	MaxInput int
	// InputRate and InputBurst bound what one attachment may send, in bytes
	// per second and bytes (DefaultInputRate 1 MiB/s, DefaultInputBurst
	// 256 KiB). Every message costs its length plus 64 bytes; a faster
	// client is paused (its messages are read later), not dropped.
	InputRate  int
	InputBurst int

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics registered
}

func (o *Options) setDefaults() {
	orDefault(&o.IdleTimeout, DefaultIdleTimeout)
	orDefault(&o.MaxPerWorkspace, DefaultMaxPerWorkspace)
	orDefault(&o.MaxPerTenant, DefaultMaxPerTenant)
	o.Scrollback = max(o.Scrollback, DefaultScrollback)
	orDefault(&o.MaxInput, DefaultMaxInput)
	orDefault(&o.InputRate, DefaultInputRate)
	orDefault(&o.InputBurst, DefaultInputBurst)
	o.InputBurst = max(o.InputBurst, o.MaxInput+msgOverhead)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// orDefault sets *v to def when it is zero or negative.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
