package conn

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/inflight"
)

// Config tunes the WebSocket endpoint. Zero fields take their defaults in
// NewServer, so a partial Config is fine; Validate rejects values that can
// only be mistakes.
type Config struct {
	// NodeName names this node in the welcome frame when the engine does not.
	NodeName string
	// ReadLimit is the largest client frame in bytes; a larger one closes
	// the connection with 1009. Default 64 KiB.
	ReadLimit int64
	// MaxJSONDepth is how many levels of arrays and objects a request's
	// data (and any other param) may nest; the frame itself may nest two
	// more, for the request object and its params. A deeper frame is
	// refused with -32600 before it is decoded. Default 32
	// (shardgate.DefaultMaxJSONDepth).
	MaxJSONDepth int
	// SendQueue is how many frames may wait for one slow client before it
	// is closed with 4009. Default 1024 frames.
	SendQueue int
	// MaxBatchBytes bounds a frame that carries several queued
	// notifications as one JSON-RPC batch (docs/PROTOCOL.md); a notification larger
	// than it still leaves, alone. 1 sends every notification in a frame
	// of its own. Default 64 KiB.
	MaxBatchBytes int
	// WriteDelay is how long a connection's writer waits, once only
	// notifications are queued, before it writes them: deliveries that
	// arrive meanwhile leave in the same frame. Under a heavy fan-out
	// that is fewer frames and write system calls per delivery, for up to
	// WriteDelay more latency. A response or a control frame (close,
	// pong) queued meanwhile ends the wait at once, and so do deliveries
	// that fill a quarter of SendQueue. 0 (the default) writes at once.
	WriteDelay time.Duration
	// MaxInFlight is how many requests one connection may have read and
	// not yet answered, MaxInFlightBytes their frame bytes; a request
	// beyond either is answered 1002 at once (the connection's requests are
	// run one at a time, so these bound its queue and the wait of its
	// last request). Defaults 32 requests and 1 MiB.
	MaxInFlight      int
	MaxInFlightBytes int64
	// AnswerQueueBytes bounds the bytes of answers queued for one client
	// and not yet written: while they reach it, the connection runs no
	// further request until the client reads. A small request can have a
	// large answer (a history page is up to the store's page size, 2 MiB
	// by default), so a frame count alone would let a client that asks and
	// never reads pin a gigabyte. Default 4 MiB.
	AnswerQueueBytes int64
	// NodeAnswerQueueBytes bounds the answer bytes queued for all the
	// node's clients together: while they reach it, a history request is
	// answered 1002 instead of read. Default 256 MiB.
	NodeAnswerQueueBytes int64
	// NodeSends bounds the sends the whole node has taken in and not yet
	// answered, shared with the node's other entry points (the HTTP send
	// API); a send beyond it is answered 1002 at once. nil: no node bound.
	NodeSends *inflight.Limit
	// RateLimit is the steady number of client frames per second allowed per
	// connection, RateBurst the bucket size. Defaults 200/s and 400.
	RateLimit rate.Limit
	RateBurst int
	// UserSendRate is the steady number of sends and publications per
	// second one key may make over all its connections to this node,
	// UserSendBurst the bucket size; over it they are refused with 1002.
	// Defaults 200/s and 400.
	UserSendRate  rate.Limit
	UserSendBurst int
	// RateCloseAfter is how many refused frames within 10 s close the
	// connection with 4008. Default 1000.
	RateCloseAfter int
	// MaxConnsPerKey caps simultaneous connections of one key on this
	// node; the next one is closed with 4008. Default 64.
	MaxConnsPerKey int
	// PingInterval is how often the server pings each connection; PongWait
	// is how long a connection may stay silent (no frame, no pong) before it
	// is dropped. Defaults 30 s and 75 s.
	PingInterval time.Duration
	PongWait     time.Duration
	// WriteTimeout bounds every single frame write: each gets at least
	// three quarters of it and at most all of it. Default 10 s.
	WriteTimeout time.Duration
	// RequestTimeout bounds every Backend call made for a client request.
	// Default 10 s.
	RequestTimeout time.Duration
	// HistoryPage is the most messages read per History call while
	// replaying or filling a gap, and the largest history limit a client may
	// ask for. At most SendQueue/2, so a replay never overflows the queue.
	// Default 500.
	HistoryPage int
	// AllowedOrigins lists the browser origins (scheme://host[:port]) that
	// may open a connection besides same-origin pages and clients that send
	// no Origin header (which are always allowed). A host may start with
	// "*." to allow every subdomain: "https://*.example" allows
	// https://app.example and https://a.b.example but not https://example.
	// "*" allows any origin. Default: none.
	AllowedOrigins []string
	// Logger receives connection events. Default slog.Default().
	Logger *slog.Logger
}

// MaxWriteDelay bounds Config.WriteDelay: a delivery may wait for company
// that long at most, far under the ping interval and any write timeout.
const MaxWriteDelay = time.Second

// DefaultConfig is the configuration of a production node.
func DefaultConfig() Config {
	return Config{
		ReadLimit:            64 << 10,
		MaxJSONDepth:         shardgate.DefaultMaxJSONDepth,
		SendQueue:            1024,
		MaxInFlight:          32,
		MaxInFlightBytes:     1 << 20,
		AnswerQueueBytes:     4 << 20,
		NodeAnswerQueueBytes: 256 << 20,
		MaxBatchBytes:        64 << 10,
		RateLimit:            200,
		RateBurst:            400,
		UserSendRate:         200,
		UserSendBurst:        400,
		RateCloseAfter:       1000,
		MaxConnsPerKey:       64,
		PingInterval:         30 * time.Second,
		PongWait:             75 * time.Second,
		WriteTimeout:         10 * time.Second,
		RequestTimeout:       10 * time.Second,
		HistoryPage:          500,
	}
}

// withDefaults fills every zero field from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ReadLimit == 0 {
		c.ReadLimit = d.ReadLimit
	}
	if c.MaxJSONDepth == 0 {
		c.MaxJSONDepth = d.MaxJSONDepth
	}
	if c.SendQueue == 0 {
		c.SendQueue = d.SendQueue
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = d.MaxInFlightBytes
	}
	if c.AnswerQueueBytes == 0 {
		c.AnswerQueueBytes = d.AnswerQueueBytes
	}
	if c.NodeAnswerQueueBytes == 0 {
		c.NodeAnswerQueueBytes = d.NodeAnswerQueueBytes
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = d.MaxBatchBytes
	}
	if c.RateLimit == 0 {
		c.RateLimit = d.RateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = d.RateBurst
	}
	if c.UserSendRate == 0 {
		c.UserSendRate = d.UserSendRate
	}
	if c.UserSendBurst == 0 {
		c.UserSendBurst = d.UserSendBurst
	}
	if c.RateCloseAfter == 0 {
		c.RateCloseAfter = d.RateCloseAfter
	}
	if c.MaxConnsPerKey == 0 {
		c.MaxConnsPerKey = d.MaxConnsPerKey
	}
	if c.PingInterval == 0 {
		c.PingInterval = d.PingInterval
	}
	if c.PongWait == 0 {
		c.PongWait = d.PongWait
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.HistoryPage == 0 {
		c.HistoryPage = min(d.HistoryPage, c.SendQueue/2)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first setting that cannot work, as a sentence. Zero
// values are fine: they mean "use the default".
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.ReadLimit < 0:
		return fmt.Errorf("read limit must be positive, got %d bytes", c.ReadLimit)
	case c.MaxJSONDepth < 1 || c.MaxJSONDepth > shardgate.MaxJSONDepthSetting:
		return fmt.Errorf("max JSON depth must be between 1 and %d, got %d", shardgate.MaxJSONDepthSetting, c.MaxJSONDepth)
	case c.SendQueue < 2:
		return fmt.Errorf("send queue must hold at least 2 frames, got %d", c.SendQueue)
	case c.WriteDelay < 0 || c.WriteDelay > MaxWriteDelay:
		return fmt.Errorf("write delay must be between 0 and %v, got %v", MaxWriteDelay, c.WriteDelay)
	case c.MaxInFlight < 1:
		return fmt.Errorf("in-flight requests per connection must be at least 1, got %d", c.MaxInFlight)
	case c.MaxInFlightBytes < 1:
		return fmt.Errorf("in-flight bytes per connection must be at least 1, got %d", c.MaxInFlightBytes)
	case c.AnswerQueueBytes < 1 || c.NodeAnswerQueueBytes < 1:
		return fmt.Errorf("answer queue bytes must be at least 1, got %d per connection and %d per node", c.AnswerQueueBytes, c.NodeAnswerQueueBytes)
	case c.MaxBatchBytes < 0:
		return fmt.Errorf("max batch bytes cannot be negative, got %d", c.MaxBatchBytes)
	case c.RateLimit < 0:
		return fmt.Errorf("rate limit must be positive, got %v/s", c.RateLimit)
	case c.RateBurst < 1:
		return fmt.Errorf("rate burst must be at least 1, got %d", c.RateBurst)
	case c.UserSendRate < 0:
		return fmt.Errorf("user send rate must be positive, got %v/s", c.UserSendRate)
	case c.UserSendBurst < 1:
		return fmt.Errorf("user send burst must be at least 1, got %d", c.UserSendBurst)
	case c.RateCloseAfter < 1:
		return fmt.Errorf("rate close-after must be at least 1, got %d", c.RateCloseAfter)
	case c.MaxConnsPerKey < 1:
		return fmt.Errorf("max connections per key must be at least 1, got %d", c.MaxConnsPerKey)
	case c.PingInterval < 0 || c.WriteTimeout < 0 || c.RequestTimeout < 0:
		return errors.New("ping interval, write timeout and request timeout must be positive")
	case c.PongWait <= c.PingInterval:
		return fmt.Errorf("pong wait (%v) must be longer than the ping interval (%v), or every idle client is dropped", c.PongWait, c.PingInterval)
	case c.HistoryPage < 1 || c.HistoryPage > c.SendQueue/2:
		return fmt.Errorf("history page must be between 1 and half the send queue (%d), got %d", c.SendQueue/2, c.HistoryPage)
	}
	if _, err := parseOrigins(c.AllowedOrigins); err != nil {
		return err
	}
	return nil
}
