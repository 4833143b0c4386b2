package bench

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/client"
)

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"too many conns":            {func(c *Config) { c.Conns = 20000 }, "split the load across several bench processes"},
		"no nodes":                  {func(c *Config) { c.Nodes = nil }, "--nodes"},
		"http url":                  {func(c *Config) { c.Nodes = []string{"http://x/v1/ws"} }, "not a ws://"},
		"keys over":                 {func(c *Config) { c.Keys = 101 }, "--keys"},
		"zero rate":                 {func(c *Config) { c.Rate = 0 }, "--rate"},
		"no duration":               {func(c *Config) { c.Duration = 0 }, "--duration"},
		"huge size":                 {func(c *Config) { c.Size = 1 << 20 }, "--size"},
		"no timeout":                {func(c *Config) { c.Timeout = 0 }, "--timeout"},
		"bad mode":                  {func(c *Config) { c.Mode = "flood" }, "--mode"},
		"negative in-flight":        {func(c *Config) { c.InFlight = -1 }, "--in-flight"},
		"fanout without publishers": {func(c *Config) { c.Mode, c.Subscribers = ModeFanout, 10 }, "--publishers"},
		"metrics not http":          {func(c *Config) { c.Metrics = []string{"ws://x/metrics"} }, "--metrics"},
		"routed fan-out": {func(c *Config) {
			c.Mode, c.Subscribers, c.Publishers, c.Route = ModeFanout, 10, 1, true
		}, "--route"},
	}
	for name, tc := range cases {
		c := DefaultConfig()
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line about %q", name, err, tc.want)
		}
	}
	c := DefaultConfig()
	c.Rate, c.InFlight = 0, 8
	if err := c.Validate(); err != nil {
		t.Errorf("a closed loop needs no rate: %v", err)
	}
	c = DefaultConfig()
	c.Conns, c.Rate = 2, 1000
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "1002") {
		t.Errorf("warnings %q", w)
	}
}

func TestParseSourceIPs(t *testing.T) {
	got, err := ParseSourceIPs("127.0.0.1-127.0.0.3, 127.0.1.9")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.1.9"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, a := range got {
		if a != netip.MustParseAddr(want[i]) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	if got, err := ParseSourceIPs(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.1", "localhost", "10.0.0.1-::1", "10.0.0.0-10.0.255.255"} {
		if _, err := ParseSourceIPs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPayload(t *testing.T) {
	due := time.Unix(1700000000, 123456789)
	for _, size := range []int{0, 10, 128, 4096} {
		b := makePayload("ab12-7", due, true, size)
		if size > 64 && len(b) != size {
			t.Errorf("size %d: %d bytes", size, len(b))
		}
		p, ok := parsePayload(b, "ab12")
		if !ok || p.ID != "ab12-7" || p.Due != due.UnixNano() || !p.Warm {
			t.Errorf("size %d: %+v %v from %s", size, p, ok, b)
		}
	}
	if _, ok := parsePayload(makePayload("zz-1", due, false, 0), "ab12"); ok {
		t.Error("another run's message taken for this run's")
	}
	if _, ok := parsePayload([]byte(`"text"`), "ab12"); ok {
		t.Error("data of another program taken for ours")
	}
}

func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		&client.RPCError{Code: 1003}:                      true,
		&client.RPCError{Code: 1002}:                      false,
		errors.Join(errors.New("send"), client.ErrClosed): true,
		errors.New("boom"):                                false,
	} {
		if retryable(err) != want {
			t.Errorf("retryable(%v) = %v", err, !want)
		}
	}
}
