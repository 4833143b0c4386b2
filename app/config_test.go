package app

import (
	"strings"
	"testing"
)

func TestConfigAllowedOrigins(t *testing.T) {
	for _, tc := range []struct {
		origins []string
		err     string
	}{
		{nil, ""},
		{[]string{"https://app.example", "https://*.example", "*"}, ""},
		{[]string{"app.example"}, `--allowed-origins: allowed origin "app.example"`},
		{[]string{"https://a.*.example"}, `--allowed-origins: allowed origin "https://a.*.example"`},
	} {
		c := DefaultConfig()
		c.Name, c.Insecure, c.AllowedOrigins = "n1", true, tc.origins
		err := c.Validate()
		if tc.err == "" && err != nil {
			t.Errorf("%q: %v", tc.origins, err)
		}
		if tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)) {
			t.Errorf("%q: %v, want %q…", tc.origins, err, tc.err)
		}
	}
}

// TestConfigBadGossipAddrNamed: --advertise-addr defaults to --gossip-addr,
// and a bad gossip address must be reported as the flag the user set,
// every time (the check once ran over a map, in random order).
func TestConfigBadGossipAddrNamed(t *testing.T) {
	for range 20 {
		c := DefaultConfig()
		c.Name, c.Insecure, c.GossipAddr = "n1", true, "nonsense"
		c.fill()
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), `--gossip-addr "nonsense"`) {
			t.Fatalf("error %v, want it to name --gossip-addr", err)
		}
	}
}
