package app

import (
	"fmt"
	"net"
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

// TestConfigJoinAddresses: an address --join can never reach ends the
// process at once with its flag named, instead of a node that retries it
// forever; a DNS name that does not resolve yet is accepted (it is retried).
func TestConfigJoinAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:7946", true},
		{"[::1]:7946", true},
		{"node-2.shardgate.svc.cluster.local:7946", true},
		{"127.0.0.1:notaport", false},
		{"127.0.0.1:99999", false},
		{"127.0.0.1:0", false},
		{"[:::]:7946", false},
		{":7946", false},
		{"no port", false},
		{"n2/10.0.0.2:7946", true}, // memberlist's node-name prefix
		{"[fe80::1%eth0]:7946", true},
		{"bad host:7946", false},
		{"n2/host!:7946", false},
	} {
		c := DefaultConfig()
		c.Name, c.Insecure, c.Join = "n1", true, []string{tc.addr}
		c.fill()
		err := c.Validate()
		if tc.ok && err != nil {
			t.Errorf("--join %s: %v", tc.addr, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("--join %q", tc.addr))) {
			t.Errorf("--join %s: %v, want an error naming it", tc.addr, err)
		}
	}
}

// TestConfigBadPortNamed: an address whose port is not a port number is
// reported as such, under its flag, before anything else is checked about
// it (not as "listeners are not all on loopback").
func TestConfigBadPortNamed(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{":abc", `--ws-addr ":abc" is not a host:port address`},
		{"127.0.0.1:99999", `--ws-addr "127.0.0.1:99999" is not a host:port address`},
		{"127.0.0.1:", `--ws-addr "127.0.0.1:" is not a host:port address`},
	} {
		c := DefaultConfig()
		c.Name, c.Insecure, c.WSAddr = "n1", true, tc.addr
		c.fill()
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("--ws-addr %s: %v, want %q…", tc.addr, err, tc.want)
		}
	}
	c := DefaultConfig()
	c.Name, c.Insecure, c.WSAddr = "n1", true, "localhost:0"
	c.fill()
	if err := c.Validate(); err != nil {
		t.Errorf("--ws-addr localhost:0: %v", err)
	}
}

// A --gossip-addr another process holds is reported under its flag, as the
// other listeners are (it said "cluster: listen on ADDR: …").
func TestGossipAddrInUseNamed(t *testing.T) {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := DefaultConfig()
	c.Name, c.Insecure, c.Local, c.NoSync = "n1", true, true, true
	c.DataDir = t.TempDir()
	c.GossipAddr, c.WSAddr, c.AdminAddr = l.LocalAddr().String(), "127.0.0.1:0", "127.0.0.1:0"
	s, err := New(c)
	if err == nil {
		s.Kill()
		t.Fatal("New with a taken --gossip-addr succeeded")
	}
	if want := "--gossip-addr " + l.LocalAddr().String() + " is not usable: address already in use"; err.Error() != want {
		t.Errorf("New: %q, want %q", err, want)
	}
}
