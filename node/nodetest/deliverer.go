package nodetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
)

// Backend is what a Deliverer's connections need of their engine; a
// *node.Node is one.
type Backend interface {
	Attach(ctx context.Context, key string) (shardgate.Attachment, error)
	Detach(key string)
	History(ctx context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error)
}

// fillPage is how many messages one history read asks for when a
// connection fills a gap.
const fillPage = 100

// maxFillFailures ends a gap fill that keeps failing; the connection
// records the last error instead.
const maxFillFailures = 200

// Deliverer stands in for conn/: it implements node.Deliverer, records
// every push, catch-up hint, publication and moved hint per key, and holds
// connections (Connect) that behave as conn/'s do towards the engine: they
// register with Attach, take pushed messages in seq order, drop duplicates
// and read what they lack from History when a push skips a seq or a
// catch-up hint names a seq they have not had. Safe for concurrent use.
type Deliverer struct {
	backend Backend
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex
	conns    map[string][]*Conn
	pushed   map[string][]uint64 // seqs pushed per key, in arrival order
	catchUps map[string]uint64   // highest catch-up hint per key
	pubs     []shardgate.Publication
	moved    []Moved
	closed   bool
}

// Moved is one moved hint given to a key's connections.
type Moved struct {
	Key, URL, Reason string
}

// NewDeliverer returns a Deliverer whose connections use backend.
func NewDeliverer(backend Backend) *Deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	return &Deliverer{backend: backend, ctx: ctx, cancel: cancel, conns: map[string][]*Conn{},
		pushed: map[string][]uint64{}, catchUps: map[string]uint64{}}
}

// Close stops every gap fill in progress and waits for them; connections
// stay as they are.
func (d *Deliverer) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// Deliver takes committed messages of key pushed by the engine.
func (d *Deliverer) Deliver(key string, msgs []shardgate.Message) {
	d.mu.Lock()
	for _, m := range msgs {
		d.pushed[key] = append(d.pushed[key], m.Seq)
	}
	conns := slices.Clone(d.conns[key])
	d.mu.Unlock()
	for _, c := range conns {
		c.deliver(msgs)
	}
}

// CatchUp takes the engine's hint that key's inbox holds messages up to
// lastSeq.
func (d *Deliverer) CatchUp(key string, lastSeq uint64) {
	d.mu.Lock()
	d.catchUps[key] = max(d.catchUps[key], lastSeq)
	conns := slices.Clone(d.conns[key])
	d.mu.Unlock()
	for _, c := range conns {
		c.catchUp(lastSeq)
	}
}

// DeliverPublication records p; it counts as delivered when it was
// recorded.
func (d *Deliverer) DeliverPublication(p shardgate.Publication) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pubs = append(d.pubs, p)
	return 1
}

// Moved records a moved hint.
func (d *Deliverer) Moved(key, url, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.moved = append(d.moved, Moved{Key: key, URL: url, Reason: reason})
}

// LocalKeys lists the keys with open connections.
func (d *Deliverer) LocalKeys() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.conns))
	for k := range d.conns {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Connections counts the open connections.
func (d *Deliverer) Connections() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, cs := range d.conns {
		n += len(cs)
	}
	return n
}

// Pushed returns the seqs the engine pushed for key, in arrival order.
func (d *Deliverer) Pushed(key string) []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.pushed[key])
}

// CaughtUp returns the highest catch-up hint the engine gave for key.
func (d *Deliverer) CaughtUp(key string) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.catchUps[key]
}

// Publications returns the publications delivered here.
func (d *Deliverer) Publications() []shardgate.Publication {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.pubs)
}

// MovedHints returns the moved hints given here.
func (d *Deliverer) MovedHints() []Moved {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.moved)
}

// Connect opens a connection of key that wants every message after since
// (0: the whole inbox). onMsg, when not nil, is called with each message
// the connection takes, in seq order, from whichever goroutine took it and
// under the connection's lock: it must not call the Conn.
func (d *Deliverer) Connect(ctx context.Context, key string, since uint64, onMsg func(shardgate.Message)) (*Conn, error) {
	c := &Conn{d: d, key: key, onMsg: onMsg, pending: map[uint64]shardgate.Message{}}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, fmt.Errorf("nodetest: connect %s: deliverer closed", key)
	}
	d.conns[key] = append(d.conns[key], c) // before Attach: pushes racing it are kept
	d.mu.Unlock()
	att, err := d.backend.Attach(ctx, key)
	if err != nil {
		d.remove(c)
		return nil, fmt.Errorf("nodetest: connect %s: %w", key, err)
	}
	c.start(since, att.LastSeq)
	return c, nil
}

func (d *Deliverer) remove(c *Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cs := slices.DeleteFunc(slices.Clone(d.conns[c.key]), func(x *Conn) bool { return x == c })
	if len(cs) == 0 {
		delete(d.conns, c.key)
	} else {
		d.conns[c.key] = cs
	}
}

// Conn is one connection of a key held by a Deliverer.
type Conn struct {
	d     *Deliverer
	key   string
	onMsg func(shardgate.Message)

	mu        sync.Mutex
	ready     bool
	closed    bool
	filling   bool
	delivered uint64 // highest seq taken, all below it taken too
	target    uint64 // highest seq known to exist
	pending   map[uint64]shardgate.Message
	got       []shardgate.Message
	err       error // the last error of a gap fill that gave up
}

// Key is the connection's key.
func (c *Conn) Key() string { return c.key }

// Messages returns what the connection took, in seq order.
func (c *Conn) Messages() []shardgate.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// Delivered is the highest seq the connection took.
func (c *Conn) Delivered() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delivered
}

// Err is the error of a gap fill that gave up, if any.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close deregisters the connection (Detach).
func (c *Conn) Close() {
	c.mu.Lock()
	was := c.closed
	c.closed = true
	c.mu.Unlock()
	if !was {
		c.d.remove(c)
		c.d.backend.Detach(c.key)
	}
}

func (c *Conn) start(since, lastSeq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready = true
	c.delivered = since
	c.target = max(c.target, lastSeq)
	c.drainLocked()
	c.kickLocked()
}

func (c *Conn) deliver(msgs []shardgate.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		switch {
		case c.ready && m.Seq <= c.delivered:
			// already taken (a fill read it first): dropped, as conn/ does
		default:
			c.pending[m.Seq] = m
			c.target = max(c.target, m.Seq)
		}
	}
	c.drainLocked()
	c.kickLocked()
}

func (c *Conn) catchUp(lastSeq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = max(c.target, lastSeq)
	c.kickLocked()
}

// takeLocked hands one message on, in order.
func (c *Conn) takeLocked(m shardgate.Message) {
	c.delivered = m.Seq
	c.got = append(c.got, m)
	if c.onMsg != nil {
		c.onMsg(m)
	}
}

// drainLocked takes the pending messages that continue the sequence.
func (c *Conn) drainLocked() {
	if !c.ready {
		return
	}
	for {
		m, ok := c.pending[c.delivered+1]
		if !ok {
			break
		}
		delete(c.pending, m.Seq)
		c.takeLocked(m)
	}
	for seq := range c.pending {
		if seq <= c.delivered {
			delete(c.pending, seq)
		}
	}
}

// kickLocked starts a gap fill when the connection is behind.
func (c *Conn) kickLocked() {
	if !c.ready || c.closed || c.filling || c.delivered >= c.target {
		return
	}
	c.d.mu.Lock()
	closed := c.d.closed
	c.d.mu.Unlock()
	if closed {
		return
	}
	c.filling = true
	c.d.wg.Go(c.fill)
}

// fill reads history until the connection has everything up to target.
func (c *Conn) fill() {
	failures := 0
	for {
		c.mu.Lock()
		c.drainLocked()
		if c.closed || c.delivered >= c.target || c.d.ctx.Err() != nil {
			c.filling = false
			c.mu.Unlock()
			return
		}
		from := c.delivered
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(c.d.ctx, 3*time.Second)
		res, err := c.d.backend.History(ctx, c.key, from, fillPage)
		cancel()
		if err == nil && c.takePage(res) {
			failures = 0
			continue
		}
		if err == nil {
			err = fmt.Errorf("history after seq %d has not seq %d (last seq %d)", from, from+1, res.LastSeq)
		}
		if failures++; failures >= maxFillFailures {
			c.mu.Lock()
			c.err = fmt.Errorf("nodetest: %s gave up filling after seq %d: %w", c.key, from, err)
			c.filling = false
			c.mu.Unlock()
			return
		}
		select {
		case <-time.After(min(10*time.Millisecond<<min(failures, 5), 200*time.Millisecond)):
		case <-c.d.ctx.Done():
		}
	}
}

// takePage takes what continues the sequence in one page of history and
// reports whether the connection moved forward.
func (c *Conn) takePage(res shardgate.HistoryResult) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.delivered
	c.target = max(c.target, res.LastSeq)
	if res.FirstSeq > c.delivered+1 {
		c.delivered = res.FirstSeq - 1 // retention removed these
	}
	for _, m := range res.Messages {
		if m.Seq == c.delivered+1 {
			c.takeLocked(m)
		}
	}
	return c.delivered > before || c.delivered >= c.target
}
