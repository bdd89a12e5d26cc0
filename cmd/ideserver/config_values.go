package main

// Value types and parsing shared by the YAML file, the environment and flags.

import (
	"encoding"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as a Go duration
// string ("90s", "168h"). Convert with time.Duration(d).
type Duration time.Duration

// String returns the Go duration string, e.g. "168h0m0s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler (JSON and YAML output).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string; a number without unit is an
// error. It implements encoding.TextUnmarshaler, which yaml.v3 also uses.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 90s, 15m, 168h)", string(b))
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a count of bytes that reads from a plain integer ("512") or
// an integer with a binary suffix: "64KiB", "1MiB", "1GiB" (B, KiB, MiB,
// GiB, TiB; case-insensitive; optional space). Decimal units (KB, MB, GB)
// and fractions are refused, so no size is ambiguous.
type ByteSize int64

// Binary size units.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

// byteUnits lists the suffixes, largest first.
func byteUnits() []struct {
	name string
	size ByteSize
} {
	return []struct {
		name string
		size ByteSize
	}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", 1}}
}

// String returns the size in the largest unit that divides it exactly,
// e.g. "32MiB", "1500"; it reads back with UnmarshalText.
func (b ByteSize) String() string {
	for _, u := range byteUnits() {
		if b != 0 && u.size > 1 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements encoding.TextMarshaler (JSON and YAML output).
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses a size; see ByteSize. It implements
// encoding.TextUnmarshaler, which yaml.v3 also uses.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	num := strings.TrimRightFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' })
	unit := s[len(num):]
	num = strings.TrimSpace(num)
	bad := fmt.Errorf("%q is not a size (bytes, or a whole number with KiB, MiB or GiB)", string(text))
	mult := ByteSize(0)
	for _, u := range byteUnits() {
		if strings.EqualFold(unit, u.name) {
			mult = u.size
		}
	}
	if unit == "" {
		mult = 1
	}
	if mult == 0 || num == "" || strings.HasPrefix(num, "+") {
		return bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/int64(mult) {
		return bad
	}
	*b = ByteSize(n) * mult
	return nil
}

// settable reports whether setConfigValue handles values of type t.
func settable(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Bool:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// setConfigValue parses s into the addressable v: strings as they are,
// integers in base 10, booleans with strconv.ParseBool, lists
// comma-separated (items trimmed, empty ones dropped), and any
// encoding.TextUnmarshaler (Duration, ByteSize) by its own rules.
func setConfigValue(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 0)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Slice:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type()) // unreachable: newKeyTable checks settable
	}
	return nil
}

// expandHome replaces a leading "~" or "~/" with home (when home is set).
func expandHome(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}
