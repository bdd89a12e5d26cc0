package dap

import (
	"regexp"
	"slices"
	"strings"
)

var (
	tagsValue    = regexp.MustCompile(`^[A-Za-z0-9_.,-]*$`)
	gcPattern    = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)
	gcFlagsAllow = []string{"-N", "-l", "-m", "-m=1", "-m=2", "-m=3", "-e", "-S", "-B", "-C", "-live", "-wb=false", "-w"}
)

// checkBuildFlags accepts buildFlags as a string or list of strings and
// returns them as a list if every flag is allowed: -tags, -race and a
// subset of -gcflags. The list form is what dlv gets, so dlv's own
// splitting of a string cannot disagree with this check.
func checkBuildFlags(v any) ([]string, *refusal) {
	var toks []string
	switch x := v.(type) {
	case string:
		var ok bool
		if toks, ok = splitQuoted(x); !ok {
			return nil, refuse(reasonBuildFlags, "buildFlags has an unterminated quote.")
		}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, refuse(reasonMalformed, "buildFlags must be a string or a list of strings.")
			}
			toks = append(toks, s)
		}
	default:
		return nil, refuse(reasonMalformed, "buildFlags must be a string or a list of strings.")
	}
	const allowed = "only -tags, -race and -gcflags with -N, -l, -m, -e, -S, -B, -C, -live, -w are allowed in buildFlags"
	var out []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if strings.HasPrefix(t, "--") {
			t = t[1:]
		}
		name, value, hasValue := strings.Cut(t, "=")
		switch name {
		case "-race":
			if hasValue && value != "true" && value != "false" {
				return nil, refuse(reasonBuildFlags, "%s.", allowed)
			}
			out = append(out, t)
			continue
		case "-tags", "-gcflags":
		default:
			return nil, refuse(reasonBuildFlags, "The build flag %q is not allowed: %s.", truncate(toks[i], 60), allowed)
		}
		if !hasValue {
			if i+1 >= len(toks) {
				return nil, refuse(reasonBuildFlags, "The build flag %s needs a value.", name)
			}
			i++
			value = toks[i]
		}
		switch name {
		case "-tags":
			if !tagsValue.MatchString(value) {
				return nil, refuse(reasonBuildFlags, "Build tags may hold only letters, digits, '_', '.', '-' and commas.")
			}
		case "-gcflags":
			if !gcFlagsOK(value) {
				return nil, refuse(reasonBuildFlags, "The -gcflags value %q is not allowed: %s.", truncate(value, 60), allowed)
			}
		}
		out = append(out, name+"="+value)
	}
	return out, nil
}

// gcFlagsOK accepts "[pattern=]flag flag..." with allowlisted compiler
// flags.
func gcFlagsOK(v string) bool {
	if pat, rest, ok := strings.Cut(v, "="); ok && !strings.HasPrefix(pat, "-") {
		if !gcPattern.MatchString(pat) {
			return false
		}
		v = rest
	}
	for _, f := range strings.Fields(v) {
		if !slices.Contains(gcFlagsAllow, f) {
			return false
		}
	}
	return true
}

// splitQuoted splits s at white space, keeping single- or double-quoted
// parts together (quotes removed).
func splitQuoted(s string) ([]string, bool) {
	var out []string
	var cur strings.Builder
	inTok := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inTok = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inTok {
				out = append(out, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			cur.WriteRune(r)
			inTok = true
		}
	}
	if quote != 0 {
		return nil, false
	}
	if inTok {
		out = append(out, cur.String())
	}
	return out, true
}
