package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/cluster"
)

func TestDefaultConfigsAreValid(t *testing.T) {
	for name, c := range map[string]cluster.Config{
		"DefaultConfig":      cluster.DefaultConfig(),
		"DefaultLocalConfig": cluster.DefaultLocalConfig(),
	} {
		c.Name = "n1"
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The production timings must leave room for failover within 5 s: the
	// worst-case suspicion time plus one probe round.
	c := cluster.DefaultConfig()
	worst := time.Duration(c.SuspicionMult*c.SuspicionMaxTimeoutMult)*c.ProbeInterval + 2*c.ProbeInterval
	if worst > 5*time.Second {
		t.Errorf("worst-case detection %v exceeds the 5s failover budget", worst)
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*cluster.Config)
		want   string
	}{
		{"no name", func(c *cluster.Config) { c.Name = "" }, "node name is empty"},
		{"host name bind", func(c *cluster.Config) { c.BindAddr = "localhost:7946" }, `gossip bind address "localhost:7946" must be an IP address and port`},
		{"no port", func(c *cluster.Config) { c.BindAddr = "127.0.0.1" }, "must be an IP address and port"},
		{"advertise port 0", func(c *cluster.Config) { c.AdvertiseAddr = "10.0.0.1:0" }, "advertise address"},
		{"advertise any", func(c *cluster.Config) { c.AdvertiseAddr = "0.0.0.0:7946" }, "not reachable by other nodes"},
		{"seed without port", func(c *cluster.Config) { c.Join = []string{"seed.local"} }, `join address "seed.local" must be host:port`},
		{"short key", func(c *cluster.Config) { c.SecretKey = []byte("short") }, "cluster key is 5 bytes; it must be 16, 24 or 32"},
		{"no partitions", func(c *cluster.Config) { c.Meta.Partitions = 0 }, "partition count is 0"},
		{"bad state", func(c *cluster.Config) { c.Meta.State = "dead" }, `node state "dead" is not one of`},
		{"probe timeout", func(c *cluster.Config) { c.ProbeTimeout = c.ProbeInterval }, "probe timeout (500ms) must be shorter than the probe interval (500ms)"},
		{"no rejoin", func(c *cluster.Config) { c.RejoinInterval = 0 }, "rejoin interval is 0s; it must be positive"},
		{"suspicion", func(c *cluster.Config) { c.SuspicionMult = 0 }, "suspicion multipliers"},
		{"meta too big", func(c *cluster.Config) { c.Meta.WSAddr = strings.Repeat("w", 500) }, "node metadata is"},
		{"long label", func(c *cluster.Config) { c.Label = strings.Repeat("l", 300) }, "label is 300 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster.DefaultConfig()
			c.Name = "n1"
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to say %q", err, tc.want)
			}
			if _, err := cluster.New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestEventTypeNames(t *testing.T) {
	for typ, want := range map[cluster.EventType]string{
		cluster.EventJoin: "join", cluster.EventLeave: "leave", cluster.EventFailed: "failed",
		cluster.EventUpdate: "update", cluster.EventType(42): "EventType(42)",
	} {
		if typ.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(typ), typ.String(), want)
		}
	}
}
