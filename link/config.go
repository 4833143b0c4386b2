package link

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
)

// Handler serves the requests and notifications that peers send.
//
// HandleLink is called concurrently, each request in its own goroutine (at
// most maxInFlight at once per Mesh). Notifications from one connection are
// handled one at a time, in the order they were sent. ctx is cancelled when
// the connection the request came on closes, or on Mesh.Close.
type Handler interface {
	// HandleLink serves one request from peer `from`. body is JSON, or the
	// binary form of a value that has one: read it with wire.Decode. The
	// returned value is sent in its binary form if it implements
	// wire.Appender and the connection speaks version 2, else as JSON. Returning an error sends it back;
	// *shardgate.Error keeps its Kind and Message across the wire.
	HandleLink(ctx context.Context, from, method string, body json.RawMessage) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, from, method string, body json.RawMessage) (any, error)

// HandleLink calls f.
func (f HandlerFunc) HandleLink(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	return f(ctx, from, method, body)
}

// Config configures a Mesh. Zero fields take the values of DefaultConfig.
type Config struct {
	// Name is this node's name, sent to peers and checked by them.
	Name string
	// ClusterKey authenticates both ends of every connection with
	// HMAC-SHA256. nil means no authentication: loopback development only.
	// When set it must be at least 16 bytes.
	ClusterKey []byte
	// TLS, when set, encrypts every link: this node dials wss:// with
	// TLS.Client, and refuses links that did not arrive over TLS with a
	// verified client certificate (the caller's listener terminates TLS
	// with TLS.Server for the server name ServerName). nil: plain ws://,
	// for loopback development only.
	TLS *TLS
	// Member says whether a dialer's name belongs to the cluster (a live
	// member, one gossip says is joining, or one it lost recently and still
	// tries to re-join). Dialers it refuses get 403,
	// after their signature has been checked. nil admits every name that
	// holds the cluster key. Called from accepting goroutines; it must be
	// safe for concurrent use and must not block.
	Member func(name string) bool
	// Cluster returns the identity of the cluster this node belongs to, ""
	// while it does not know. Both ends of a handshake name theirs, and a
	// link between two that differ is refused: without a cluster key (or
	// with one shared by two clusters) a node of another cluster that took
	// over a peer's address would otherwise exchange requests with this
	// one under the peer's name. nil names none. Called on every
	// handshake; it must be safe for concurrent use and must not block.
	Cluster func() string
	// Handler serves incoming requests. nil answers every request with
	// KindMethodNotFound (a node that only calls out).
	Handler Handler
	// Path is where the caller mounts ServeHTTP on the public listener, and
	// where this node dials its peers. Default "/internal/link".
	Path string
	// DialTimeout bounds one dial including the handshake. Default 2s.
	DialTimeout time.Duration
	// CallTimeout applies to a Call whose ctx has no deadline. Default 5s.
	CallTimeout time.Duration
	// QueueSize is the number of frames queued per connection before Call
	// and Notify fail fast with KindUnavailable. Default 65536.
	QueueSize int
	// QueueBytes bounds the same queues in bytes: the envelopes waiting to
	// be written to one connection (beyond it Call and Notify fail fast with
	// KindUnavailable), and the notifications from one connection waiting
	// for the handler (beyond it they are dropped and counted). An
	// envelope alone in its queue is always taken. Default 256 MiB.
	QueueBytes int64
	// MaxFrameBytes is the largest WebSocket message read, in bytes; batches
	// are split to stay under it. Default 32 MiB (snapshot chunks are about
	// 1 MiB).
	MaxFrameBytes int64
	// PingInterval is how often each side pings an otherwise idle
	// connection; a connection silent for three intervals is closed.
	// Default 10s.
	PingInterval time.Duration
	// Allow is a fault-injection hook for tests. When it returns false for
	// (this node → peer) or (peer → this node), frames in that direction are
	// dropped and dials fail. nil allows everything.
	Allow func(from, to string) bool
	// Logger receives connection events. Default discards.
	Logger *slog.Logger
	// Now is the clock for handshake timestamps and dial backoff. Network
	// deadlines always use the real clock. Default time.Now.
	Now func() time.Time
}

// DefaultConfig returns the production defaults; set Name and Handler.
func DefaultConfig() Config {
	return Config{
		Path:          "/internal/link",
		DialTimeout:   2 * time.Second,
		CallTimeout:   5 * time.Second,
		QueueSize:     65536,
		QueueBytes:    256 << 20,
		MaxFrameBytes: 32 << 20,
		PingInterval:  10 * time.Second,
		Logger:        slog.New(slog.DiscardHandler),
		Now:           time.Now,
	}
}

// withDefaults fills every zero field from DefaultConfig, so a literal
// Config{Name: ..., Handler: ...} is usable.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Path == "" {
		c.Path = d.Path
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = d.CallTimeout
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = d.QueueBytes
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = d.MaxFrameBytes
	}
	if c.PingInterval == 0 {
		c.PingInterval = d.PingInterval
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// Validate reports the first setting that cannot work, as a sentence.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return shardgate.Errorf(shardgate.KindInvalid, format, args...)
	}
	switch {
	case c.Name == "":
		return bad("link: Name is empty; every node needs its own name")
	case len(c.Name) > shardgate.MaxKeyBytes:
		return bad("link: Name is %d bytes, the limit is %d", len(c.Name), shardgate.MaxKeyBytes)
	case len(c.ClusterKey) > 0 && len(c.ClusterKey) < 16:
		return bad("link: ClusterKey is %d bytes; it must be at least 16", len(c.ClusterKey))
	case !strings.HasPrefix(c.Path, "/"):
		return bad("link: Path %q must start with /", c.Path)
	case c.DialTimeout < 0, c.CallTimeout < 0, c.PingInterval < 0:
		return bad("link: DialTimeout, CallTimeout and PingInterval must be positive")
	case c.QueueSize < 0:
		return bad("link: QueueSize must be positive, not %d", c.QueueSize)
	case c.QueueBytes < 0:
		return bad("link: QueueBytes must be positive, not %d", c.QueueBytes)
	case c.MaxFrameBytes > 0 && c.MaxFrameBytes < 4096:
		return bad("link: MaxFrameBytes is %d; at least 4096 bytes are needed", c.MaxFrameBytes)
	case c.MaxFrameBytes < 0:
		return bad("link: MaxFrameBytes must be positive, not %d", c.MaxFrameBytes)
	}
	return nil
}
