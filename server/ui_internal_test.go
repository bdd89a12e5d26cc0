package server

import "testing"

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                        false,
		"gzip":                    true,
		"gzip, deflate, br, zstd": true,
		"br;q=1.0, GZIP;q=0.5":    true,
		"deflate, gzip;q=0":       false,
		"gzip;q=0.000":            false,
		"*":                       true,
		"identity":                false,
		"gzipped":                 false,
		"x-gzip, identity;q=0.5":  false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestHashedAsset(t *testing.T) {
	for name, want := range map[string]bool{
		"index.js":                  false,
		"index.css":                 false,
		"chunk-AY3DKE7S.js":         true,
		"debug-session-JCX6XFJY.js": true,
		"chunk-ay3dke7s.js":         false,
		"chunk-AY3DKE7.js":          false,
		"dir/chunk-AY3DKE7S.js":     false,
	} {
		if got := hashedAsset(name); got != want {
			t.Errorf("hashedAsset(%q) = %v, want %v", name, got, want)
		}
	}
}
