package app

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/conn"
	"github.com/shardgate/shardgate/link"
	"github.com/shardgate/shardgate/node"
)

// Config is everything `shardgate run` accepts (docs/configuration.md).
type Config struct {
	Name          string
	DataDir       string
	GossipAddr    string
	AdvertiseAddr string
	WSAddr        string
	AdminAddr     string
	Join          []string
	Partitions    int
	Backups       int
	AuthSecret    string
	Insecure      bool
	AdminToken    string
	ClusterKey    string // base64 of 16, 24 or 32 bytes
	// AllowedOrigins lists the browser origins allowed on /v1/ws besides
	// same-origin pages and clients without an Origin header:
	// "https://app.example", "https://*.example" (any subdomain), or "*".
	AllowedOrigins []string

	// JWTAudience and JWTIssuer, when set, must match a client token's aud
	// and iss; JWTMaxTTL, when positive, refuses tokens that live longer.
	JWTAudience string
	JWTIssuer   string
	JWTMaxTTL   time.Duration

	// TLSCert and TLSKey are PEM files; with them both listeners serve
	// wss:// and https:// only. Server.ReloadTLS reads them again.
	TLSCert string
	TLSKey  string

	// LinkTLSCert, LinkTLSKey and LinkTLSCA are PEM files for the node
	// links instead of the certificates derived from ClusterKey: this
	// node's certificate (for the name link.shardgate.internal, server and
	// client use) and the CA that signs every node's.
	LinkTLSCert string
	LinkTLSKey  string
	LinkTLSCA   string

	// Connection hygiene of both listeners (0 turns a cap or timeout off).
	// MaxConnections caps the node's open connections on the public
	// listener (the admin listener has AdminMaxConnections of its own when
	// it is set); MaxConnectionsPerAddr caps those from one client IP, on
	// each listener.
	// Connections over a cap are answered 503 (WebSocket: close 4008).
	MaxConnections        int
	MaxConnectionsPerAddr int
	// ReadHeaderTimeout bounds the wait for a request's headers (and the TLS
	// handshake); BodyTimeout for a request body once the headers are in;
	// IdleTimeout for the next request on a keep-alive connection.
	ReadHeaderTimeout time.Duration
	BodyTimeout       time.Duration
	IdleTimeout       time.Duration

	// MaxJSONDepth is how many levels of arrays and objects a message's
	// data may nest, checked where input enters (client frames, admin
	// bodies). Default shardgate.DefaultMaxJSONDepth.
	MaxJSONDepth int

	// Limits of one client connection. MaxFrameBytes is the largest client
	// frame (larger: close 1009); at most MaxFrameBytesLimit so that every
	// accepted request fits the node links and replication batches.
	// ConnRate is the frames per second one connection may send (bursts of
	// twice as many; more get 1002, and 1000 refusals in a row close it
	// with 4008). SendQueue is how many frames may wait for a client that
	// does not read before it is closed with 4009. MaxConnectionsPerKey
	// caps one key's connections to this node (more: close 4008).
	MaxFrameBytes        int64
	ConnRate             float64
	SendQueue            int
	MaxConnectionsPerKey int
	// WriteDelay is how long a client connection's writer lets
	// notifications gather before writing them as one frame
	// (conn.Config.WriteDelay); 0 writes at once.
	WriteDelay time.Duration

	// In-flight bounds (backpressure). ConnInFlight and ConnInFlightBytes
	// bound the requests one client connection has sent and not had
	// answered; NodeInFlight and NodeInFlightBytes the sends this node has
	// taken in over all its connections and the HTTP send API. A request
	// beyond a bound is answered at once: 1002 to a client, 429 on HTTP.
	ConnInFlight      int
	ConnInFlightBytes int64
	NodeInFlight      int
	NodeInFlightBytes int64
	// AnswerQueueBytes bounds the answers queued for one client and not
	// yet read (its next request waits), NodeAnswerQueueBytes those of all
	// clients together (a history request is answered 1002).
	AnswerQueueBytes     int64
	NodeAnswerQueueBytes int64

	// Quotas and retention. Each key keeps at most RetentionMessages
	// messages, none older than RetentionAge (0: no limit by that
	// measure). Once the stored messages of this node add up to
	// MaxStorageBytes (0: no limit), sends to keys homed here are refused
	// (storage_full: 1003 to clients, 507 on the admin API) while reads go
	// on. UserSendRate is the sends and publications per second one key
	// may make over all its connections to this node (bursts of twice as
	// many).
	RetentionMessages int
	RetentionAge      time.Duration
	MaxStorageBytes   int64
	UserSendRate      float64
	// Engine queues and time budgets (see node.Config): writes waiting for
	// one shard's writer, pushes waiting for one peer node, the time a
	// write gets to reach its home and commit, and the time a batch waits
	// for its backups. Zero takes the engine's default.
	WriterQueue      int
	WriterQueueBytes int64
	PushQueue        int
	PushQueueBytes   int64
	// LinkQueue and LinkQueueBytes bound the frames queued on one node
	// link, each way (see link.Config.QueueSize, QueueBytes).
	LinkQueue        int
	LinkQueueBytes   int64
	WriteTimeout     time.Duration
	ReplicateTimeout time.Duration

	// Demo serves the browser client's demo page at /demo/ on the public
	// listener (`shardgate dev`).
	Demo bool

	// Local selects the fast timings meant for loopback clusters (tests,
	// `shardgate dev`).
	Local bool
	// NoSync skips fsync: tests only.
	NoSync bool
	// AckBeforeReplicate is a deliberately broken mode for proving that the
	// chaos suite detects lost messages. Never use it otherwise.
	AckBeforeReplicate bool

	// Test hooks: adjust the membership config (e.g. an in-memory
	// transport) and filter node-link traffic (partitions).
	ClusterHook func(*cluster.Config)
	LinkAllow   func(from, to string) bool
	// EngineHook adjusts the engine's config (fault hooks, timings).
	EngineHook func(*node.Config)

	Logger *slog.Logger
}

// DefaultConfig matches the defaults of docs/configuration.md.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	engine := node.DefaultConfig()
	return Config{
		Name:       host,
		GossipAddr: "127.0.0.1:7946",
		WSAddr:     "127.0.0.1:8080",
		AdminAddr:  "127.0.0.1:9090",
		Partitions: 271,
		Backups:    1,

		MaxConnections:        DefaultMaxConnections,
		MaxConnectionsPerAddr: DefaultMaxConnectionsPerAddr,
		ReadHeaderTimeout:     10 * time.Second,
		BodyTimeout:           20 * time.Second,
		IdleTimeout:           60 * time.Second,

		MaxJSONDepth: shardgate.DefaultMaxJSONDepth,

		MaxFrameBytes:        conn.DefaultConfig().ReadLimit,
		ConnRate:             float64(conn.DefaultConfig().RateLimit),
		SendQueue:            conn.DefaultConfig().SendQueue,
		MaxConnectionsPerKey: conn.DefaultConfig().MaxConnsPerKey,
		ConnInFlight:         conn.DefaultConfig().MaxInFlight,
		ConnInFlightBytes:    conn.DefaultConfig().MaxInFlightBytes,
		NodeInFlight:         DefaultNodeInFlight,
		NodeInFlightBytes:    DefaultNodeInFlightBytes,
		AnswerQueueBytes:     conn.DefaultConfig().AnswerQueueBytes,
		NodeAnswerQueueBytes: conn.DefaultConfig().NodeAnswerQueueBytes,

		RetentionMessages: DefaultRetentionMessages,
		RetentionAge:      DefaultRetentionAge,
		MaxStorageBytes:   DefaultMaxStorageBytes,
		UserSendRate:      DefaultUserSendRate,
		WriterQueue:       engine.WriterQueue,
		WriterQueueBytes:  engine.WriterQueueBytes,
		PushQueue:         engine.PushQueueMessages,
		PushQueueBytes:    int64(engine.PushQueueBytes),
		LinkQueue:         link.DefaultConfig().QueueSize,
		LinkQueueBytes:    link.DefaultConfig().QueueBytes,
		WriteTimeout:      engine.ForwardRetry,
		ReplicateTimeout:  engine.ReplicateTimeout,
	}
}

// Default quotas and retention: a week of messages, at most 10,000 per
// key; 10 GiB of messages per node; 200 sends/s per key and node, the
// same as one connection's frame rate.
const (
	DefaultRetentionMessages       = 10_000
	DefaultRetentionAge            = 7 * 24 * time.Hour
	DefaultMaxStorageBytes   int64 = 10 << 30
	DefaultUserSendRate            = 200.0
)

// The node's in-flight bound on sends by default. On the reference
// machine (2 cores) three nodes reach their highest throughput with about
// 64-256 sends in flight over the cluster; beyond that more concurrency
// only adds waiting (an accepted send waits about bound/throughput). 128
// per node admits that and a burst while keeping the wait of an accepted
// send from growing with the load offered (docs/PERFORMANCE.md); raise it
// on bigger machines.
const (
	DefaultNodeInFlight            = 128
	DefaultNodeInFlightBytes int64 = 32 << 20
)

// MaxFrameBytesLimit is the largest --max-frame-bytes: the size of the
// largest admin request body, which is known to fit every internal frame a
// message later travels in.
const MaxFrameBytesLimit = 1 << 20

// Connection caps by default: the process may hold 20,000 files on the
// machines this runs on, and node links, the store and logs need some.
const (
	DefaultMaxConnections        = 10000
	DefaultMaxConnectionsPerAddr = 1000
)

// fill derives the defaults that depend on other fields.
func (c *Config) fill() {
	if c.DataDir == "" {
		c.DataDir = filepath.Join("data", c.Name)
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.GossipAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxJSONDepth == 0 {
		c.MaxJSONDepth = shardgate.DefaultMaxJSONDepth
	}
	d := conn.DefaultConfig()
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = d.ReadLimit
	}
	if c.ConnRate == 0 {
		c.ConnRate = float64(d.RateLimit)
	}
	if c.SendQueue == 0 {
		c.SendQueue = d.SendQueue
	}
	if c.MaxConnectionsPerKey == 0 {
		c.MaxConnectionsPerKey = d.MaxConnsPerKey
	}
	if c.AnswerQueueBytes == 0 {
		c.AnswerQueueBytes = d.AnswerQueueBytes
	}
	if c.NodeAnswerQueueBytes == 0 {
		c.NodeAnswerQueueBytes = d.NodeAnswerQueueBytes
	}
}

// Validate checks every field and says, in one sentence, what is wrong.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("--name is empty and the hostname is unknown")
	}
	if strings.ContainsAny(c.Name, "/\\ \t\n") || len(c.Name) > 64 {
		return fmt.Errorf("--name %q must be at most 64 characters without spaces or slashes", c.Name)
	}
	if c.Partitions < 1 || c.Partitions > 65536 {
		return fmt.Errorf("--partitions must be between 1 and 65536, got %d", c.Partitions)
	}
	if c.Backups < 0 || c.Backups > 5 {
		return fmt.Errorf("--backups must be between 0 and 5, got %d", c.Backups)
	}
	// In this order: --advertise-addr defaults to --gossip-addr, so a bad
	// gossip address must be reported under the name the user gave it.
	for _, a := range []struct{ flag, addr string }{{"--gossip-addr", c.GossipAddr}, {"--ws-addr", c.WSAddr}, {"--admin-addr", c.AdminAddr}, {"--advertise-addr", c.AdvertiseAddr}} {
		if a.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a.addr); err != nil || !validPort(port) {
			return fmt.Errorf("%s %q is not a host:port address", a.flag, a.addr)
		}
	}
	for _, addr := range c.Join {
		if !joinable(addr) {
			return fmt.Errorf("--join %q is not a host:port address of a node's gossip listener", addr)
		}
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("--max-connections must be 0 (no cap) or more, got %d", c.MaxConnections)
	}
	if c.MaxConnectionsPerAddr < 0 {
		return fmt.Errorf("--max-connections-per-addr must be 0 (no cap) or more, got %d", c.MaxConnectionsPerAddr)
	}
	if c.ReadHeaderTimeout < 0 || c.BodyTimeout < 0 || c.IdleTimeout < 0 {
		return errors.New("--read-header-timeout, --body-timeout and --idle-timeout must be 0 (none) or more")
	}
	if c.WriterQueue < 0 || c.WriterQueueBytes < 0 || c.PushQueue < 0 || c.PushQueueBytes < 0 || c.LinkQueue < 0 || c.LinkQueueBytes < 0 {
		return errors.New("--writer-queue, --writer-queue-bytes, --push-queue, --push-queue-bytes, --link-queue and --link-queue-bytes must be positive (0 takes the default)")
	}
	if c.WriteTimeout < 0 || c.ReplicateTimeout < 0 {
		return errors.New("--write-timeout and --replicate-timeout must be positive (0 takes the default)")
	}
	if c.WriteTimeout > 0 && c.ReplicateTimeout > c.WriteTimeout {
		return fmt.Errorf("--replicate-timeout (%v) must not exceed --write-timeout (%v): a write would be refused before its backups could answer", c.ReplicateTimeout, c.WriteTimeout)
	}
	switch {
	case c.RetentionMessages < 0:
		return fmt.Errorf("--retention-messages must be 0 (no limit) or more, got %d", c.RetentionMessages)
	case c.RetentionAge < 0:
		return fmt.Errorf("--retention-age must be 0 (no limit) or more, got %s", c.RetentionAge)
	case c.MaxStorageBytes < 0:
		return fmt.Errorf("--max-storage-bytes must be 0 (no limit) or more, got %d", c.MaxStorageBytes)
	case !(c.UserSendRate > 0):
		return fmt.Errorf("--user-send-rate must be more than 0 sends per second, got %v", c.UserSendRate)
	}
	switch {
	case c.MaxFrameBytes < 1024 || c.MaxFrameBytes > MaxFrameBytesLimit:
		return fmt.Errorf("--max-frame-bytes must be between 1KiB and 1MiB, got %d", c.MaxFrameBytes)
	case !(c.ConnRate > 0):
		return fmt.Errorf("--conn-rate must be more than 0 frames per second, got %v", c.ConnRate)
	case c.SendQueue < 2:
		return fmt.Errorf("--send-queue must hold at least 2 frames, got %d", c.SendQueue)
	case c.WriteDelay < 0 || c.WriteDelay > conn.MaxWriteDelay:
		return fmt.Errorf("--write-delay must be between 0 and %v, got %v", conn.MaxWriteDelay, c.WriteDelay)
	case c.MaxConnectionsPerKey < 1:
		return fmt.Errorf("--max-connections-per-key must be at least 1, got %d", c.MaxConnectionsPerKey)
	case c.ConnInFlight < 1:
		return fmt.Errorf("--conn-in-flight must be at least 1 request, got %d", c.ConnInFlight)
	case c.ConnInFlightBytes < c.MaxFrameBytes:
		return fmt.Errorf("--conn-in-flight-bytes must hold at least one frame of --max-frame-bytes (%d), got %d", c.MaxFrameBytes, c.ConnInFlightBytes)
	case c.AnswerQueueBytes < 1:
		return fmt.Errorf("--answer-queue-bytes must be at least 1, got %d", c.AnswerQueueBytes)
	case c.NodeAnswerQueueBytes < c.AnswerQueueBytes:
		return fmt.Errorf("--node-answer-queue-bytes must be at least --answer-queue-bytes (%d), got %d", c.AnswerQueueBytes, c.NodeAnswerQueueBytes)
	case c.NodeInFlight < 0 || c.NodeInFlightBytes < 0:
		return fmt.Errorf("--node-in-flight and --node-in-flight-bytes must be 0 (no bound) or more, got %d and %d", c.NodeInFlight, c.NodeInFlightBytes)
	}
	if c.MaxJSONDepth < 1 || c.MaxJSONDepth > shardgate.MaxJSONDepthSetting {
		return fmt.Errorf("--max-json-depth must be between 1 and %d, got %d", shardgate.MaxJSONDepthSetting, c.MaxJSONDepth)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: set both or neither")
	}
	if n := btoi(c.LinkTLSCert != "") + btoi(c.LinkTLSKey != "") + btoi(c.LinkTLSCA != ""); n != 0 && n != 3 {
		return errors.New("--link-tls-cert, --link-tls-key and --link-tls-ca go together: set all three or none")
	}
	if _, err := c.clusterKey(); err != nil {
		return err
	}
	if err := c.validateSecrets(); err != nil {
		return err
	}
	if c.TLSCert != "" && c.ClusterKey == "" && c.LinkTLSCert == "" {
		return errors.New("--tls-cert needs --cluster-key (or --link-tls-cert): node links share the public port and must use TLS too")
	}
	if err := (conn.Config{AllowedOrigins: c.AllowedOrigins}).Validate(); err != nil {
		return fmt.Errorf("--allowed-origins: %w", err)
	}
	if !c.allLoopback() {
		var missing []string
		if c.AuthSecret == "" && !c.Insecure {
			missing = append(missing, "--auth-secret (or --insecure)")
		}
		if c.AdminToken == "" {
			missing = append(missing, "--admin-token")
		}
		if c.ClusterKey == "" {
			missing = append(missing, "--cluster-key")
		}
		if len(missing) > 0 {
			return fmt.Errorf("listeners are not all on loopback, so %s must be set", strings.Join(missing, ", "))
		}
	}
	if c.AuthSecret == "" && !c.Insecure {
		return errors.New("set --auth-secret to accept client tokens, or --insecure for development")
	}
	return nil
}

func (c Config) clusterKey() ([]byte, error) {
	if c.ClusterKey == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(c.ClusterKey)
	if err != nil {
		return nil, errors.New("--cluster-key is not valid base64")
	}
	if n := len(k); n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("--cluster-key must decode to 16, 24 or 32 bytes, got %d", n)
	}
	return k, nil
}

func (c Config) allLoopback() bool {
	for _, addr := range []string{c.GossipAddr, c.AdvertiseAddr, c.WSAddr, c.AdminAddr} {
		if addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return false
		}
		if host == "localhost" {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// joinable reports whether addr can name a node to join: a host (an IP
// address, zone included, or a DNS name) and a port other than 0, after
// the optional "nodename/" prefix memberlist takes. A name that does not
// resolve yet is joinable: the node retries until it does.
func joinable(addr string) bool {
	if _, rest, ok := strings.Cut(addr, "/"); ok {
		addr = rest
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !validPort(port) || port == "0" || host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return len(host) <= 253
}

// validPort reports whether p is a port number, 0 (any free port) to 65535.
func validPort(p string) bool {
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && n <= 65535
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
