package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestTrustedProxiesConfig is AUTH-10's configuration:
// server.trusted_proxies takes CIDRs and single addresses from the file or
// IDESERVER_SERVER_TRUSTED_PROXIES (comma-separated), defaults to none,
// and refuses what is not an address or would trust everyone.
func TestTrustedProxiesConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if c, err := LoadConfig(nil, envFunc(baseEnv()), nil); err != nil || len(c.TrustedProxyPrefixes()) != 0 {
		t.Fatalf("default: %v, %v; want none", c.Server.TrustedProxies, err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.1.0.0/16")}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"env", nil, baseEnv("IDESERVER_SERVER_TRUSTED_PROXIES", " 10.0.0.0/8, 192.0.2.1,fd00::/8, 10.1.2.3/16,10.0.0.0/8")},
		{"file", []string{"--config", writeFile(t, dir, "c.yaml", "server:\n  trusted_proxies: [10.0.0.0/8, 192.0.2.1, \"fd00::/8\", 10.1.2.3/16]\n")}, baseEnv()},
	} {
		c, err := LoadConfig(tc.args, envFunc(tc.env), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := c.TrustedProxyPrefixes(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", tc.name, got, want)
		}
	}
	for _, bad := range []string{"0.0.0.0/0", "::/0", "not-an-ip", "10.0.0.0/33", "fe80::1%eth0", "*"} {
		_, err := LoadConfig(nil, envFunc(baseEnv("IDESERVER_SERVER_TRUSTED_PROXIES", bad)), nil)
		if err == nil || !strings.Contains(err.Error(), "server.trusted_proxies") {
			t.Errorf("%q: %v, want an error naming server.trusted_proxies", bad, err)
		}
	}
}
