package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
)

// ErrClientClosed is returned by the calls of a Client after Close.
var ErrClientClosed = errors.New("client: closed")

// Client keeps one key connected to its cluster for as long as it lives:
// it connects to the key's home, reconnects with backoff when the
// connection ends, resumes the inbox where it left off, follows moved
// hints, resubscribes its topics and retries sends with the same id. Its
// methods are safe for concurrent use.
type Client struct {
	cfg    Config
	in     *inbox
	msgs   chan shardgate.Message
	pubs   chan shardgate.Publication
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	inflight    atomic.Int64 // calls under way: a moved hint waits for 0
	dropped     atomic.Uint64
	connections atomic.Uint64
	movedCh     chan struct{}

	mu      sync.Mutex
	conn    *Conn         // nil while disconnected
	ready   chan struct{} // closed while conn is set
	welcome Welcome
	topics  map[string]struct{}
	moved   string // the URL of the last moved hint not yet followed
	err     error  // why the client stopped, if it did on its own
	lastErr error  // why the last connection attempt failed or connection ended
}

// New starts a client in the background and returns at once; calls wait
// for a connection. Use Connect to wait for the first one.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, in: newInbox(cfg.Buffer, cfg.Since),
		msgs: make(chan shardgate.Message), pubs: make(chan shardgate.Publication, cfg.PublicationBuffer),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), movedCh: make(chan struct{}, 1),
		ready: make(chan struct{}), topics: map[string]struct{}{},
	}
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.in.dispatch(ctx, c.msgs) }()
	go func() { defer c.wg.Done(); c.run() }()
	go func() {
		c.wg.Wait()
		close(c.msgs)
		close(c.pubs)
		close(c.done)
	}()
	return c, nil
}

// Connect starts a client and waits until it is connected. A refusal that
// retrying cannot fix (a bad token without TokenFunc, a forbidden origin)
// is returned at once, as is ctx's error; either way the client is closed.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := c.current(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Messages delivers the key's inbox in seq order, each seq once, across
// reconnects. It is closed when the client stops.
func (c *Client) Messages() <-chan shardgate.Message { return c.msgs }

// Publications delivers messages of subscribed topics (live, at most once;
// dropped when the application lets PublicationBuffer fill up). It is
// closed when the client stops.
func (c *Client) Publications() <-chan shardgate.Publication { return c.pubs }

// LastSeq is the highest seq the application has taken from Messages (or
// Config.Since): store it with your state and pass it as Since to resume a
// later Client exactly there.
func (c *Client) LastSeq() uint64 { return c.in.handed.Load() }

// Welcome is the welcome frame of the current (or last) connection.
func (c *Client) Welcome() Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// Stats are counters of the client's life.
type Stats struct {
	Reconnects          uint64 // connections after the first
	DroppedPublications uint64 // publications that found the buffer full
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{Reconnects: max(c.connections.Load(), 1) - 1, DroppedPublications: c.dropped.Load()}
}

// Done is closed once the client has stopped: after Close, or on its own
// after a refusal that retrying cannot fix (see Err).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the client stopped on its own; nil while it runs and after
// Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops the client: the connection closes with 1000, pending calls
// return ErrClientClosed, and Messages and Publications are closed. Messages
// still in the receive buffer are dropped (LastSeq does not count them).
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// fail stops the client for good with err.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.cfg.Logger.Error("shardgate client stopped", "key", c.cfg.Key, "err", err)
	c.cancel()
}

// current waits for a connection.
func (c *Client) current(ctx context.Context) (*Conn, error) {
	for {
		c.mu.Lock()
		conn, ready, err := c.conn, c.ready, c.err
		c.mu.Unlock()
		switch {
		case err != nil:
			return nil, err
		case conn != nil:
			return conn, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			c.mu.Lock()
			last := c.lastErr
			c.mu.Unlock()
			if last != nil {
				return nil, fmt.Errorf("waiting for a connection: %w (last attempt: %w)", ctx.Err(), last)
			}
			return nil, fmt.Errorf("waiting for a connection: %w", ctx.Err())
		case <-c.ctx.Done():
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return nil, ErrClientClosed
		}
	}
}

// setConn makes conn the one calls use (nil: none).
func (c *Client) setConn(conn *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn != nil && c.conn == nil {
		close(c.ready)
	}
	if conn == nil && c.conn != nil {
		c.ready = make(chan struct{})
	}
	c.conn = conn
	if conn != nil {
		c.welcome = conn.Welcome()
	}
}

// onNotify receives the notifications of every connection on its reader
// goroutine; it never blocks.
func (c *Client) onNotify(n inbound) {
	switch n.Method {
	case "message":
		var m shardgate.Message
		if json.Unmarshal(n.Params, &m) == nil {
			c.in.offer(m)
		}
	case "publication":
		var p shardgate.Publication
		if json.Unmarshal(n.Params, &p) != nil {
			return
		}
		select {
		case c.pubs <- p:
		default:
			c.dropped.Add(1)
		}
	case "moved":
		var h MovedHint
		if json.Unmarshal(n.Params, &h) == nil && h.URL != "" {
			c.mu.Lock()
			c.moved = h.URL
			c.mu.Unlock()
			signal(c.movedCh)
		}
	}
}

func (c *Client) takeMoved() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.moved
	c.moved = ""
	return u
}

func (c *Client) state(s State) {
	if s.Err != nil {
		c.mu.Lock()
		c.lastErr = s.Err
		c.mu.Unlock()
	}
	if c.cfg.OnState != nil {
		c.cfg.OnState(s)
	}
}

// waitCtx sleeps for d, or until ctx ends (its error) or the client stops
// (ErrClientClosed).
func (c *Client) waitCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClientClosed
	}
}

// wait sleeps for d or until the client stops.
func (c *Client) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}
