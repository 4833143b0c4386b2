package bench

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// MaxConns is the most connections one bench process opens. A process may
// hold at most 20,000 open files on the machines this runs on; the rest is
// left for the process's own files and for sockets that linger closing.
const MaxConns = 15000

// maxSize keeps a send frame, envelope included, under the server's
// default 64 KiB frame limit.
const maxSize = 63 << 10

// serverRatePerConn is the server's default per-connection frame rate
// (conn.DefaultConfig); above it sends are refused with 1002.
const serverRatePerConn = 200

// Config describes one bench run. Durations are wall-clock time.
type Config struct {
	// Nodes are the WebSocket URLs (ws://host:port/v1/ws) connections are
	// spread over, round robin.
	Nodes []string
	// Conns is the number of connections, each with its own key.
	Conns int
	// Keys is how many of the connections receive messages; every send
	// goes to one of them, picked at random. 0 means all of them.
	Keys int
	// Rate is the target number of sends per second over all connections.
	Rate float64
	// Duration is how long the measured part of the run sends.
	Duration time.Duration
	// Warmup is sent before the measured part; its messages are checked
	// for loss and duplication but left out of counts and latencies.
	Warmup time.Duration
	// Size is the length in bytes of each message's JSON data.
	Size int
	// Secret, when set, mints a token per connection (the nodes'
	// --auth-secret); otherwise connections name themselves with ?user=.
	Secret string
	// SourceIPs are local addresses connections are bound to in turn, so
	// that many connections to one node do not run out of ephemeral ports.
	SourceIPs []netip.Addr
	// Timeout bounds each send attempt; Retries is how many more attempts
	// a send gets after a timeout, a closed connection or error 1003, with
	// the same idempotency id.
	Timeout time.Duration
	Retries int
	// Grace is how long, once sending stops, the bench waits for
	// acknowledged messages to be delivered before calling them lost.
	Grace time.Duration
	// ConnectTimeout bounds opening all connections.
	ConnectTimeout time.Duration
	// MaxInflight caps sends waiting for their answer; when reached the
	// schedule waits, and the wait shows in the latencies.
	MaxInflight int
	// Mode is ModeSend (durable sends between the bench's connections) or
	// ModeFanout (publications to the subscribers of one topic).
	Mode string
	// InFlight, when positive, runs a closed loop: that many sends (or
	// publications) are outstanding at all times, each started as soon as
	// one is answered, and Rate is ignored. Zero runs the open loop at Rate.
	InFlight int
	// Subscribers and Publishers are the connections of a fan-out run: the
	// subscribers subscribe to Topic, the publishers publish to it in turn.
	// In that mode Conns is their sum.
	Subscribers, Publishers int
	Topic                   string
	// Route opens each connection on its key's home, found with GET
	// /v1/route on its round-robin node, as a one-hop client does: a
	// delivery then never crosses a node link. Reconnects still go round
	// the nodes (a home may have moved by then). Send mode only.
	Route bool
	// Metrics are the nodes' /metrics URLs (an admin listener's base URL
	// is enough). Each node's process_cpu_seconds_total is read before and
	// after the run, and the report gives node CPU per message. Name each
	// node process once: nodes sharing a process report the same CPU.
	Metrics []string
	// Progress receives a line per second while the run goes on (nil: no
	// progress). ProgressTTY rewrites one line with \r instead.
	Progress    io.Writer
	ProgressTTY bool
}

// DefaultConfig is the configuration of `shardgate bench` without flags.
func DefaultConfig() Config {
	return Config{
		Nodes:          []string{"ws://127.0.0.1:8080/v1/ws"},
		Conns:          100,
		Rate:           1000,
		Duration:       10 * time.Second,
		Size:           128,
		Timeout:        5 * time.Second,
		Retries:        3,
		Grace:          5 * time.Second,
		ConnectTimeout: 60 * time.Second,
		MaxInflight:    10000,
		Mode:           ModeSend,
		Topic:          "bench",
	}
}

// Modes of a run.
const (
	ModeSend   = "send"
	ModeFanout = "fanout"
)

// normalized fills what a mode implies: a fan-out run's connections are
// its subscribers and publishers.
func (c Config) normalized() Config {
	if c.Mode == "" {
		c.Mode = ModeSend
	}
	if c.Mode == ModeFanout {
		c.Conns, c.Keys = c.Subscribers+c.Publishers, 0
	}
	return c
}

// recipients is the effective number of receiving connections.
func (c Config) recipients() int {
	if c.Keys <= 0 || c.Keys > c.Conns {
		return c.Conns
	}
	return c.Keys
}

// Validate says in one sentence what cannot work.
func (c Config) Validate() error {
	c = c.normalized()
	if err := c.validateMode(); err != nil {
		return err
	}
	if len(c.Nodes) == 0 {
		return errors.New("--nodes names no node")
	}
	for _, n := range c.Nodes {
		u, err := url.Parse(n)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("--nodes: %q is not a ws:// or wss:// URL", n)
		}
	}
	switch {
	case c.Conns < 1:
		return fmt.Errorf("--conns must be at least 1, got %d", c.Conns)
	case c.Conns > MaxConns:
		procs := (c.Conns + MaxConns - 1) / MaxConns
		return fmt.Errorf("--conns %d is more than one process can hold (at most %d: a process may open 20,000 files): split the load across several bench processes, e.g. %d processes with --conns %d and --rate %.0f each",
			c.Conns, MaxConns, procs, (c.Conns+procs-1)/procs, c.Rate/float64(procs))
	case c.Keys < 0 || c.Keys > c.Conns:
		return fmt.Errorf("--keys must be between 1 and --conns (%d), since every recipient is one of the connections; got %d", c.Conns, c.Keys)
	case c.InFlight == 0 && !(c.Rate > 0):
		return fmt.Errorf("--rate must be positive, got %v", c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %v", c.Duration)
	case c.Warmup < 0 || c.Grace < 0:
		return errors.New("--warmup and --grace cannot be negative")
	case c.Size < 0 || c.Size > maxSize:
		return fmt.Errorf("--size must be between 0 and %d bytes (a send must fit in the server's 64 KiB frame), got %d", maxSize, c.Size)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %v", c.Timeout)
	case c.Retries < 0:
		return fmt.Errorf("--retries cannot be negative, got %d", c.Retries)
	case c.ConnectTimeout <= 0:
		return fmt.Errorf("the connect timeout must be positive, got %v", c.ConnectTimeout)
	case c.MaxInflight < 1:
		return fmt.Errorf("--max-inflight must be at least 1, got %d", c.MaxInflight)
	}
	return nil
}

// validateMode checks the settings of the mode and the closed loop.
func (c Config) validateMode() error {
	switch c.Mode {
	case ModeSend, ModeFanout:
	default:
		return fmt.Errorf("--mode must be %s or %s, got %q", ModeSend, ModeFanout, c.Mode)
	}
	if c.InFlight < 0 {
		return fmt.Errorf("--in-flight cannot be negative, got %d", c.InFlight)
	}
	if c.Mode == ModeFanout && (c.Subscribers < 1 || c.Publishers < 1) {
		return fmt.Errorf("--mode fanout needs at least one subscriber and one publisher, got --subscribers %d --publishers %d", c.Subscribers, c.Publishers)
	}
	if c.Mode == ModeFanout && c.Route {
		return errors.New("--route applies to --mode send: a fan-out run places its subscribers on the first node")
	}
	if c.Mode == ModeFanout && c.Topic == "" {
		return errors.New("--topic cannot be empty")
	}
	for _, m := range c.Metrics {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--metrics: %q is not an http:// or https:// URL", m)
		}
	}
	return nil
}

// Warnings lists settings that will work but probably not as meant.
func (c Config) Warnings() []string {
	var w []string
	c = c.normalized()
	senders := c.Conns
	if c.Mode == ModeFanout {
		senders = c.Publishers
	}
	if per := c.Rate / float64(senders); c.InFlight == 0 && per > serverRatePerConn {
		w = append(w, fmt.Sprintf("%.0f sends/s per connection is above the server's default limit of %d/s per connection: expect error 1002 unless you add --conns", per, serverRatePerConn))
	}
	return w
}

// ParseSourceIPs reads a comma-separated list of addresses and ranges
// ("127.0.0.1-127.0.0.8,127.0.1.1"). An empty string means none: the
// system picks the source address.
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("--source-ips: %q is not an IP address", lo)
		}
		last := first
		if isRange {
			if last, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("--source-ips: %q is not an IP address", hi)
			}
			if last.Less(first) || first.Is4() != last.Is4() {
				return nil, fmt.Errorf("--source-ips: %q is not a range from a lower to a higher address of one family", part)
			}
		}
		for a := first; ; a = a.Next() {
			if len(out) == 1024 {
				return nil, errors.New("--source-ips names more than 1024 addresses")
			}
			out = append(out, a)
			if a == last {
				break
			}
		}
	}
	return out, nil
}
