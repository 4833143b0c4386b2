package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/shardgate/shardgate"
)

// DefaultLabel keeps shardgate's gossip apart from other memberlist users
// on the same network.
const DefaultLabel = "shardgate"

// DefaultPartitions is P when nothing else is configured (docs/PROTOCOL.md).
const DefaultPartitions = 271

// Config configures a Cluster. Durations are wall-clock times.
type Config struct {
	// Name is this node's stable name, unique in the cluster.
	Name string
	// BindAddr is the gossip listener, "ip:port", for UDP and TCP alike.
	// Port 0 picks a free port. With a custom Transport it names the address
	// that transport serves.
	BindAddr string
	// AdvertiseAddr is the "ip:port" the other nodes use; "" means the
	// address actually bound.
	AdvertiseAddr string
	// Join lists seed gossip addresses or DNS names, "host:port".
	Join []string
	// Peers are gossip addresses of peers from an earlier run of this
	// node. Join tries one of them with the seeds on each attempt (the
	// seeds may be down while the cluster is up), and while the node is
	// alone the re-join loop tries them too. Join needs no answer from
	// them when a seed answers: they may be long gone.
	Peers []string
	// SecretKey, 16, 24 or 32 bytes, encrypts and authenticates gossip.
	// Empty means plain text.
	SecretKey []byte
	// Label keeps clusters on one network apart; "" means DefaultLabel.
	Label string
	// Meta is this node's initial metadata. Name is always set from Name;
	// an empty State means joining and a zero StartedAt means now.
	Meta Meta
	// Transport replaces the real network, for tests; nil = UDP and TCP.
	Transport memberlist.NodeAwareTransport

	// ProbeInterval is how often each node probes a random peer.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before asking
	// other nodes to probe indirectly. Must be below ProbeInterval.
	ProbeTimeout time.Duration
	// GossipInterval is how often queued rumours are sent.
	GossipInterval time.Duration
	// PushPullInterval is how often full state is exchanged with a random
	// peer; it bounds how long a missed rumour stays missed.
	PushPullInterval time.Duration
	// SuspicionMult scales the time a suspect has to refute before it is
	// declared dead: SuspicionMult × max(1, log10 N) × ProbeInterval.
	SuspicionMult int
	// SuspicionMaxTimeoutMult bounds the suspicion time when few peers
	// confirm it: at most this many times the value above.
	SuspicionMaxTimeoutMult int
	// GossipToTheDeadTime is how long rumours still go to a dead node, and
	// after which memberlist forgets it.
	GossipToTheDeadTime time.Duration
	// TCPTimeout bounds one push/pull or join exchange with one peer.
	TCPTimeout time.Duration

	// RejoinInterval is how often known-but-absent peers are re-joined.
	RejoinInterval time.Duration
	// ReconnectTimeout is how long a failed peer keeps being re-joined
	// before it is forgotten.
	ReconnectTimeout time.Duration
	// JoinTimeout is how long Join keeps retrying the seeds.
	JoinTimeout time.Duration

	// Logger receives our logs and memberlist's; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig is tuned for a LAN, where we must fail over within 5 s of a
// crash. Detection is one probe round to suspect the node (each peer probes
// one member every 500 ms, so up to ~1 s with a few peers) plus the
// suspicion time, 1.5 s when a second peer confirms and at most 3 s. On
// three nodes over loopback a closed node was reported failed after
// 2.4–3.0 s (8 runs of TestCrashedNodeIsReportedFailed under -race), and a
// host that went silent within the same bound on fake time
// (TestSilentHostIsDeclaredDeadWithinBudget). A missed rumour is repaired
// by push/pull within PushPullInterval.
func DefaultConfig() Config {
	name, _ := os.Hostname()
	return Config{
		Name:                    name,
		BindAddr:                "127.0.0.1:7946",
		Label:                   DefaultLabel,
		Meta:                    Meta{State: shardgate.StateJoining, Partitions: DefaultPartitions},
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		GossipInterval:          100 * time.Millisecond,
		PushPullInterval:        5 * time.Second,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 2,
		GossipToTheDeadTime:     15 * time.Second,
		TCPTimeout:              2 * time.Second,
		RejoinInterval:          2 * time.Second,
		ReconnectTimeout:        24 * time.Hour,
		JoinTimeout:             30 * time.Second,
	}
}

// DefaultLocalConfig is faster, for tests on loopback or an in-memory
// network: suspicion lasts 0.75–1.5 s, so a crash is detected in roughly
// 1–2 s (computed from the timings, not measured).
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.BindAddr = "127.0.0.1:0"
	c.ProbeInterval = 250 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 2 * time.Second
	c.GossipToTheDeadTime = 3 * time.Second
	c.TCPTimeout = time.Second
	c.RejoinInterval = 500 * time.Millisecond
	c.ReconnectTimeout = time.Hour
	c.JoinTimeout = 5 * time.Second
	return c
}

// Validate reports the first problem in c as a sentence a user can act on.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("cluster: the node name is empty")
	}
	if len(c.Name) > 128 {
		return fmt.Errorf("cluster: the node name is %d bytes, the limit is 128", len(c.Name))
	}
	if err := checkIPPort("gossip bind address", c.BindAddr, true); err != nil {
		return err
	}
	if c.AdvertiseAddr != "" {
		if err := checkIPPort("gossip advertise address", c.AdvertiseAddr, false); err != nil {
			return err
		}
		if ip, _, _ := net.SplitHostPort(c.AdvertiseAddr); net.ParseIP(ip).IsUnspecified() {
			return fmt.Errorf("cluster: the gossip advertise address %q is not reachable by other nodes; name a concrete IP", c.AdvertiseAddr)
		}
	}
	for _, s := range c.Join {
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			return fmt.Errorf("cluster: the join address %q must be host:port, like 10.0.0.1:7946", s)
		}
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("cluster: the cluster key is %d bytes; it must be 16, 24 or 32 bytes", len(c.SecretKey))
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		return fmt.Errorf("cluster: the label is %d bytes, the limit is %d", len(c.Label), memberlist.LabelMaxSize)
	}
	if c.Meta.Partitions < 1 {
		return fmt.Errorf("cluster: the partition count is %d; it must be at least 1", c.Meta.Partitions)
	}
	if c.Meta.State != "" && !validState(c.Meta.State) {
		return fmt.Errorf("cluster: the node state %q is not one of joining, active, draining, left", c.Meta.State)
	}
	if err := c.validateTimings(); err != nil {
		return err
	}
	m := c.Meta
	m.Name = c.Name
	_, err := m.encode()
	return err
}

func (c Config) validateTimings() error {
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"probe interval", c.ProbeInterval},
		{"probe timeout", c.ProbeTimeout},
		{"gossip interval", c.GossipInterval},
		{"push/pull interval", c.PushPullInterval},
		{"gossip-to-the-dead time", c.GossipToTheDeadTime},
		{"TCP timeout", c.TCPTimeout},
		{"rejoin interval", c.RejoinInterval},
		{"reconnect timeout", c.ReconnectTimeout},
		{"join timeout", c.JoinTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("cluster: the %s is %v; it must be positive", p.name, p.d)
		}
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return fmt.Errorf("cluster: the probe timeout (%v) must be shorter than the probe interval (%v)", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 || c.SuspicionMaxTimeoutMult < 1 {
		return fmt.Errorf("cluster: the suspicion multipliers (%d, %d) must be at least 1", c.SuspicionMult, c.SuspicionMaxTimeoutMult)
	}
	return nil
}

func checkIPPort(what, addr string, portZeroOK bool) error {
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || net.ParseIP(host) == nil || perr != nil || port < 0 || port > 65535 || (port == 0 && !portZeroOK) {
		return fmt.Errorf("cluster: the %s %q must be an IP address and port, like 127.0.0.1:7946", what, addr)
	}
	return nil
}

// withDefaults fills the fields whose empty value means "the default".
func (c Config) withDefaults(now time.Time) Config {
	if c.Label == "" {
		c.Label = DefaultLabel
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Meta.Name = c.Name
	if c.Meta.State == "" {
		c.Meta.State = shardgate.StateJoining
	}
	if c.Meta.StartedAt == 0 {
		c.Meta.StartedAt = now.UnixMilli()
	}
	c.SecretKey = append([]byte(nil), c.SecretKey...)
	c.Join = append([]string(nil), c.Join...)
	return c
}
