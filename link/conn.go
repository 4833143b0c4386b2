package link

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// conn is one WebSocket between this node and a peer, in either direction.
// Both directions run the same code: whatever arrives is a request, a
// notification or an answer to one of our requests. In practice requests
// travel on the connection their sender dialed, and answers come back on it.
type conn struct {
	m        *Mesh
	ws       *websocket.Conn
	remote   string // the peer's name: dialed, or authenticated on accept
	outbound bool
	codec    int32 // codecJSON or codecBinary: how this side writes

	// ctx is cancelled when the connection closes; handlers of requests
	// that came on it see that, since nobody is left to read their answer.
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: "the queue is not empty"

	mu       sync.Mutex
	closed   bool
	closeErr error
	queue    [][]byte // encoded envelopes waiting for the writer
	queued   int64    // bytes of queue
	spare    [][]byte // the writer's previous batch, reused to avoid garbage
	pending  map[uint64]chan reply
	nextID   uint64
	notes    []envelope // notifications waiting for the notes goroutine
	noted    int64      // bytes of the bodies of notes
	noting   bool       // a notes goroutine is running
}

// reply is the outcome of one Call: a result, or an error to return as is.
type reply struct {
	result json.RawMessage
	err    error
}

var errReplaced = errors.New("replaced by a newer connection from the same peer")

func newConn(m *Mesh, ws *websocket.Conn, remote string, outbound bool, codec int32) *conn {
	ctx, cancel := context.WithCancel(m.ctx)
	return &conn{
		m: m, ws: ws, remote: remote, outbound: outbound, codec: codec,
		ctx: ctx, cancel: cancel,
		wake:    make(chan struct{}, 1),
		pending: make(map[uint64]chan reply),
	}
}

// unavailable is the error for anything queued on or waiting for a
// connection that closed.
func (c *conn) unavailable() error {
	return shardgate.Errorf(shardgate.KindUnavailable, "connection to %s closed: %w", c.remote, c.closeErr)
}

// register allocates a request id and the channel its answer will arrive on.
func (c *conn) register() (uint64, chan reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, nil, c.unavailable()
	}
	c.nextID++
	ch := make(chan reply, 1)
	c.pending[c.nextID] = ch
	return c.nextID, ch, nil
}

// unregister forgets a request whose caller stopped waiting; a late answer
// is then dropped by resolve.
func (c *conn) unregister(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// resolve hands an answer to the waiting caller, if it still waits.
func (c *conn) resolve(e envelope) {
	if e.E != nil {
		c.answer(e.I, reply{err: fromWire(e.E)})
		return
	}
	c.answer(e.I, reply{result: e.R})
}

// answer hands r to the caller waiting for request id, if it still waits.
func (c *conn) answer(id uint64, r reply) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// enqueue queues one encoded envelope for the writer. It never blocks: a
// full queue means the peer or the link is far behind, and failing now lets
// the caller retry elsewhere instead of piling up more.
func (c *conn) enqueue(env []byte) error {
	if int64(len(env)+envelopeOverhead+frameOverhead) > c.m.cfg.MaxFrameBytes {
		return shardgate.Errorf(shardgate.KindTooLarge,
			"envelope of %d bytes exceeds the %d-byte frame limit", len(env), c.m.cfg.MaxFrameBytes)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.unavailable()
	}
	if len(c.queue) >= c.m.cfg.QueueSize {
		c.mu.Unlock()
		c.m.stats.queueFull.Add(1)
		return shardgate.Errorf(shardgate.KindUnavailable,
			"send queue to %s is full (%d frames)", c.remote, c.m.cfg.QueueSize)
	}
	if len(c.queue) > 0 && c.queued+int64(len(env)) > c.m.cfg.QueueBytes {
		queued := c.queued
		c.mu.Unlock()
		c.m.stats.queueFull.Add(1)
		return shardgate.Errorf(shardgate.KindUnavailable,
			"send queue to %s is full (%d bytes queued, limit %d)", c.remote, queued, c.m.cfg.QueueBytes)
	}
	c.queue = append(c.queue, env)
	c.queued += int64(len(env))
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer is already due to look
	}
	return nil
}

// take hands the writer everything queued, swapping in the spare slice.
func (c *conn) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	batch := c.queue
	c.queue, c.spare = c.spare, nil
	c.queued = 0
	return batch
}

// give returns a written batch for reuse, unless a burst made it huge.
func (c *conn) give(batch [][]byte) {
	for _, env := range batch {
		putBuf(env)
	}
	clear(batch) // drop references to bodies already written
	if cap(batch) > 4096 {
		return
	}
	c.mu.Lock()
	if !c.closed && c.spare == nil {
		c.spare = batch[:0]
	}
	c.mu.Unlock()
}

func (c *conn) depth() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// close shuts the connection once: it stops both goroutines, cancels the
// handlers of its requests and fails every call still waiting on it.
// It must not be called with m.mu or c.mu held.
func (c *conn) close(cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = cause
	pending := c.pending
	c.pending, c.queue, c.spare, c.notes = nil, nil, nil, nil
	c.mu.Unlock()

	c.cancel()
	c.ws.Close() // unblocks the reader and any write in progress
	err := c.unavailable()
	for _, ch := range pending {
		ch <- reply{err: err}
	}
	c.m.forget(c)
	level := slog.LevelInfo
	if errors.Is(cause, ErrClosed) {
		level = slog.LevelDebug // shutting down: expected, one line per peer is noise
	}
	c.m.log.Log(context.Background(), level, "link: connection closed", "peer", c.remote,
		"outbound", c.outbound, "pending", len(pending), "reason", cause)
}
