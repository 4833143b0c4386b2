package link

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link/wire"
)

// ErrClosed is the cause inside the KindUnavailable error returned by calls
// on, or pending in, a Mesh that has been closed.
var ErrClosed = errors.New("link: mesh closed")

// Mesh holds this node's links to its peers. All methods are safe for
// concurrent use.
type Mesh struct {
	cfg      Config
	log      *slog.Logger
	dialer   websocket.Dialer
	upgrader websocket.Upgrader
	ctx      context.Context // cancelled by Close; parent of every conn's ctx
	cancel   context.CancelFunc
	sem      chan struct{} // bounds requests in flight
	wg       sync.WaitGroup
	nonces   nonceSet
	stats    stats
	// codec is the highest link codec version this node speaks; tests
	// lower it to play a node that predates version 2.
	codec atomic.Int32

	mu      sync.Mutex
	closed  bool
	peers   map[string]*peer // outbound side, by peer name
	inbound map[string]*conn // accepted connections, by dialer name
}

// stats are counters for tests and diagnosis; frames versus envelopes shows
// how well batching works.
type stats struct {
	framesOut, envelopesOut, framesIn atomic.Int64
	dropped, queueFull                atomic.Int64
	badEnvelopes                      atomic.Int64 // undecodable envelopes and frames from peers
}

// New returns a Mesh. It starts nothing: connections are dialed on first
// use and accepted once the caller mounts ServeHTTP.
func New(cfg Config) (*Mesh, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	const bufSize = 64 << 10 // large enough that a busy batch is a few syscalls
	var clientTLS *tls.Config
	if cfg.TLS != nil {
		clientTLS = cfg.TLS.Client
	}
	m := &Mesh{
		cfg: cfg,
		log: cfg.Logger,
		dialer: websocket.Dialer{ // Proxy left nil: peers are never reached through a proxy
			HandshakeTimeout: cfg.DialTimeout,
			ReadBufferSize:   bufSize,
			WriteBufferSize:  bufSize,
			TLSClientConfig:  clientTLS,
		},
		upgrader: websocket.Upgrader{ // CheckOrigin nil: dialers send no Origin, browsers are refused
			HandshakeTimeout: cfg.DialTimeout,
			ReadBufferSize:   bufSize,
			WriteBufferSize:  bufSize,
		},
		ctx:     ctx,
		cancel:  cancel,
		sem:     make(chan struct{}, maxInFlight),
		peers:   make(map[string]*peer),
		inbound: make(map[string]*conn),
	}
	m.codec.Store(codecBinary)
	return m, nil
}

// Call sends a request to peer and waits for the answer, decoding the
// result into resp unless resp is nil. Without a deadline on ctx,
// CallTimeout applies. Errors are KindUnavailable when no answer arrived
// (the request may or may not have been handled), the remote error's kind
// when the handler failed, KindTooLarge or KindInvalid for a request that
// could not be sent at all.
func (m *Mesh) Call(ctx context.Context, peer, method string, req, resp any) error {
	if err := m.call(ctx, peer, method, req, resp); err != nil {
		return fmt.Errorf("link: call %s on %s: %w", method, peer, err)
	}
	return nil
}

func (m *Mesh) call(ctx context.Context, peer, method string, req, resp any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.CallTimeout)
		defer cancel()
	}
	if err := checkMethod(method); err != nil {
		return err
	}
	c, err := m.connFor(ctx, peer)
	if err != nil {
		return err
	}
	id, ch, err := c.register()
	if err != nil {
		return err
	}
	env, err := c.requestEnvelope(id, method, req)
	if err == nil {
		err = c.enqueue(env)
	}
	if err != nil {
		c.unregister(id)
		return err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if resp != nil {
			if err := wire.Decode(r.result, resp); err != nil {
				return shardgate.Errorf(shardgate.KindInternal, "decode result: %w", err)
			}
		}
		return nil
	case <-ctx.Done():
		c.unregister(id)
		return shardgate.Errorf(shardgate.KindUnavailable, "no answer: %w", ctx.Err())
	}
}

// Notify queues a one-way message to peer. It returns once the message is
// queued; delivery is not confirmed. Frames to one peer leave in the order
// they were queued, and the peer handles notifications in that order. ctx
// bounds only the wait for a connection.
func (m *Mesh) Notify(ctx context.Context, peer, method string, req any) error {
	if err := m.notify(ctx, peer, method, req); err != nil {
		return fmt.Errorf("link: notify %s on %s: %w", method, peer, err)
	}
	return nil
}

func (m *Mesh) notify(ctx context.Context, peer, method string, req any) error {
	if err := checkMethod(method); err != nil {
		return err
	}
	c, err := m.connFor(ctx, peer) // a dial gives up after DialTimeout anyway
	if err != nil {
		return err
	}
	env, err := c.requestEnvelope(0, method, req)
	if err != nil {
		return err
	}
	return c.enqueue(env)
}

// checkMethod refuses a method no envelope can carry.
func checkMethod(method string) error {
	switch {
	case method == "":
		// An empty method would read as an answer on the other side.
		return shardgate.Errorf(shardgate.KindInvalid, "method is empty")
	case len(method) > maxMethodBytes:
		return shardgate.Errorf(shardgate.KindInvalid, "method name is %d bytes, the limit is %d", len(method), maxMethodBytes)
	}
	return nil
}

// invoke runs the handler. A panic becomes a KindInternal answer and a log
// line with the stack, so one bad request cannot take the node down.
func (m *Mesh) invoke(ctx context.Context, from, method string, body json.RawMessage) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("link: handler panicked", "peer", from, "method", method,
				"panic", p, "stack", string(debug.Stack()))
			err = shardgate.Errorf(shardgate.KindInternal, "handler for %s failed", method)
		}
	}()
	if m.cfg.Handler == nil {
		return nil, shardgate.Errorf(shardgate.KindMethodNotFound, "node %s serves no requests", m.cfg.Name)
	}
	return m.cfg.Handler.HandleLink(ctx, from, method, body)
}

// Traffic is what a Mesh has carried since it started, over every peer.
// EnvelopesOut over FramesOut is how many requests and replies a frame
// carries on average: the batching that makes a link cheap under load.
type Traffic struct {
	FramesOut, EnvelopesOut, FramesIn int64
	// BadEnvelopes are undecodable envelopes and frames from peers;
	// QueueFull are envelopes refused because a peer's queue was full.
	BadEnvelopes, QueueFull int64
}

// Traffic reads the mesh's counters; it never blocks.
func (m *Mesh) Traffic() Traffic {
	return Traffic{
		FramesOut: m.stats.framesOut.Load(), EnvelopesOut: m.stats.envelopesOut.Load(), FramesIn: m.stats.framesIn.Load(),
		BadEnvelopes: m.stats.badEnvelopes.Load(), QueueFull: m.stats.queueFull.Load(),
	}
}

// QueueDepths reports, per peer, the envelopes queued and not yet written on
// its connections (both directions). Peers set with SetPeer appear even
// when idle.
func (m *Mesh) QueueDepths() map[string]int {
	out := make(map[string]int)
	var conns []*conn
	m.mu.Lock()
	for name, p := range m.peers {
		out[name] = 0
		if p.conn != nil {
			conns = append(conns, p.conn)
		}
	}
	for _, c := range m.inbound {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		out[c.remote] += c.depth()
	}
	return out
}

// Close closes every connection, fails pending calls with KindUnavailable
// and waits for every goroutine of the Mesh, handlers included. It is
// idempotent; later calls wait too.
func (m *Mesh) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return nil
	}
	m.closed = true
	var conns []*conn
	for _, p := range m.peers {
		if p.conn != nil {
			conns = append(conns, p.conn)
		}
		if p.dial != nil {
			p.dial.cancel()
		}
	}
	for _, c := range m.inbound {
		conns = append(conns, c)
	}
	m.peers, m.inbound = map[string]*peer{}, map[string]*conn{}
	m.mu.Unlock()

	m.cancel()
	for _, c := range conns {
		c.close(ErrClosed)
	}
	m.wg.Wait()
	return nil
}

// start runs a connection's reader and writer. Callers hold m.mu and have
// checked m.closed, so no goroutine starts after Close began waiting.
func (m *Mesh) start(c *conn) {
	m.wg.Add(2)
	go func() { defer m.wg.Done(); c.readLoop() }()
	go func() { defer m.wg.Done(); c.writeLoop() }()
}

// forget removes a closed connection from the maps, if it is still there.
func (m *Mesh) forget(c *conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !c.outbound {
		if m.inbound[c.remote] == c {
			delete(m.inbound, c.remote)
		}
		return
	}
	if p := m.peers[c.remote]; p != nil && p.conn == c {
		p.conn = nil
	}
}

func (m *Mesh) allowed(from, to string) bool {
	return m.cfg.Allow == nil || m.cfg.Allow(from, to)
}
