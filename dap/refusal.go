package dap

import (
	"encoding/json"
	"fmt"
)

// refusal is a request the proxy answers with an error response instead of
// forwarding. Reason is a metric label from a small fixed set; Message is
// for the user and never holds a host path.
type refusal struct {
	Reason  string
	Message string
}

func (r *refusal) Error() string { return r.Reason + ": " + r.Message }

func refuse(reason, format string, args ...any) *refusal {
	return &refusal{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Refusal reasons (metric labels).
const (
	reasonMalformed  = "malformed"
	reasonCommand    = "command"
	reasonMode       = "mode"
	reasonPath       = "path"
	reasonBuildFlags = "build_flags"
	reasonEnv        = "env"
	reasonArgument   = "argument"
	reasonState      = "state"
	reasonTerminal   = "terminal"
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return truncate(string(b), 60)
}
