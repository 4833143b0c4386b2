package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gorilla/websocket"
)

// Config of a Client. Nodes and one of Token, TokenFunc and User are
// required; every other field has a default.
type Config struct {
	// Nodes are the addresses of any nodes of the cluster (ws://host:port,
	// ws://host:port/v1/ws or http://host:port). The client asks one of
	// them where its key lives and connects there, falling back to the
	// node itself (which forwards) when the home cannot be reached.
	Nodes []string
	// Key is the client's own key. With User it defaults to User; with a
	// token, to the token's sub claim (read, not verified). Without a key
	// the client skips the route look-up and connects to a node directly.
	Key string
	// Token is a client JWT. TokenFunc, when set, is asked for a token
	// before every connection instead, so an expired token (close 4001)
	// is replaced rather than fatal. User names the key on a node in
	// insecure mode (?user=KEY).
	Token     string
	TokenFunc func(ctx context.Context) (string, error)
	User      string
	// Since is where the first connection starts its replay: nil resumes
	// after the key's stored ack cursor, a value replays after that seq.
	// Later connections always resume after the last seq put into the
	// receive buffer, whatever Since said.
	Since *uint64
	// Buffer is how many inbox messages may wait for the application
	// (see the package doc for what happens when it is full). Default 1024.
	Buffer int
	// PublicationBuffer is how many publications may wait; publications
	// that find it full are dropped and counted (Stats). Default 256.
	PublicationBuffer int
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts: exponential from MinBackoff, capped at MaxBackoff, with
	// full jitter (a uniform draw between 0 and the bound). Defaults 100 ms
	// and 10 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// CallTimeout bounds one attempt of a call; Send retries after it with
	// the same id. Default 10 s.
	CallTimeout time.Duration
	// IdleTimeout is how long a connection may stay silent (no frame, no
	// ping from the node, which pings every 30 s) before the client gives
	// it up and reconnects. Default 75 s.
	IdleTimeout time.Duration
	// MovedDelay is how long a moved hint may wait for the client to be
	// idle (no call in flight) before the client follows it anyway.
	// Default 5 s.
	MovedDelay time.Duration
	// Dialer dials the WebSockets. Default: 10 s handshake timeout, proxy
	// from the environment.
	Dialer *websocket.Dialer
	// Logger receives connection events. Default: discard.
	Logger *slog.Logger
	// Rand returns a uniform float in [0, 1) for the jitter. Default
	// math/rand/v2.
	Rand func() float64
	// OnState, when set, is called on every change of connection state
	// (from the client's goroutine: it must not block).
	OnState func(State)
}

// State is what the client is doing about its connection.
type State struct {
	Connected bool
	Node      string // the node it is connected to, when connected
	URL       string // the URL it is connected or connecting to
	Attempt   int    // failed attempts since the last connection
	Err       error  // why the last connection ended or attempt failed
}

func (c Config) withDefaults() Config {
	if c.Key == "" {
		c.Key = c.User
	}
	if c.Key == "" && c.Token != "" {
		c.Key = tokenSubject(c.Token)
	}
	if c.Buffer == 0 {
		c.Buffer = 1024
	}
	if c.PublicationBuffer == 0 {
		c.PublicationBuffer = 256
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 75 * time.Second
	}
	if c.MovedDelay == 0 {
		c.MovedDelay = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	n := 0
	for _, set := range []bool{c.Token != "", c.TokenFunc != nil, c.User != ""} {
		if set {
			n++
		}
	}
	switch {
	case len(c.Nodes) == 0:
		return errors.New("client: Nodes must name at least one node")
	case n != 1:
		return errors.New("client: set exactly one of Token, TokenFunc and User")
	case c.Buffer < 1 || c.PublicationBuffer < 1:
		return fmt.Errorf("client: Buffer and PublicationBuffer must be positive, got %d and %d", c.Buffer, c.PublicationBuffer)
	case c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("client: backoff must satisfy 0 <= MinBackoff (%v) <= MaxBackoff (%v)", c.MinBackoff, c.MaxBackoff)
	case c.CallTimeout < 0 || c.MovedDelay < 0 || c.IdleTimeout < 0:
		return errors.New("client: CallTimeout, IdleTimeout and MovedDelay must be positive")
	}
	for _, node := range c.Nodes {
		if _, err := wsURL(node); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the wait before attempt n (1-based): full jitter over an
// exponentially growing bound.
func (c Config) backoff(n int) time.Duration {
	bound := c.MaxBackoff
	if n < 32 {
		if b := c.MinBackoff << (n - 1); b > 0 && b < bound {
			bound = b
		}
	}
	return time.Duration(c.Rand() * float64(bound))
}
