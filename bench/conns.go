package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/conn"
)

// dialParallel is how many connections are opened at once: enough to open
// thousands in seconds, few enough not to overflow a listener's backlog.
const dialParallel = 32

// peer is one connection of the bench and, when it is a recipient, the
// record of its inbox. The connection is replaced when it breaks.
type peer struct {
	key   string
	urls  []string // its own node first, then the others to fall back on
	opts  client.Options
	inbox *inbox // nil when the key receives nothing
	route bool   // open the first connection on the key's home

	mu sync.Mutex
	cl *client.Conn
}

func (p *peer) client() *client.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cl
}

// newPeers describes the connections: keys unique to this run (so that
// several bench processes can share a cluster), nodes round robin, and
// source addresses spread so each node sees all of them.
func newPeers(cfg Config, runID string) ([]*peer, error) {
	dialers := map[netip.Addr]*websocket.Dialer{}
	ttl := cfg.Warmup + cfg.Duration + cfg.Grace + cfg.ConnectTimeout + time.Hour
	peers := make([]*peer, cfg.Conns)
	for i := range peers {
		p := &peer{key: fmt.Sprintf("bench-%s-%d", runID, i), route: cfg.Route}
		for j := range cfg.Nodes {
			p.urls = append(p.urls, cfg.Nodes[(i+j)%len(cfg.Nodes)])
		}
		if cfg.Secret != "" {
			var topics []string // a fan-out run's connections may use its topic
			if cfg.Mode == ModeFanout {
				topics = []string{cfg.Topic}
			}
			tok, err := conn.MintToken([]byte(cfg.Secret), p.key, ttl, nil, topics, topics)
			if err != nil {
				return nil, fmt.Errorf("token for %s: %w", p.key, err)
			}
			p.opts.Token = tok
		} else {
			p.opts.User = p.key
		}
		if n := len(cfg.SourceIPs); n > 0 {
			ip := cfg.SourceIPs[(i/len(cfg.Nodes))%n]
			if dialers[ip] == nil {
				nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}, Timeout: 10 * time.Second}
				dialers[ip] = &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
			}
			p.opts.Dialer = dialers[ip]
		}
		// The SDK's default channel buffers (4096 messages and as many
		// publications) are allocated up front: half a megabyte per
		// connection, gigabytes at 15k. Deliveries are drained at once
		// here, so a small buffer loses nothing.
		p.opts.BufferSize = 256
		// Only this run's messages count: an inbox left by an earlier run
		// is not replayed (reconnects set Since, which takes precedence).
		p.opts.LiveOnly = true
		if i < cfg.recipients() {
			p.inbox = &inbox{}
		}
		peers[i] = p
	}
	return peers, nil
}

// dialAll opens every connection, dialParallel at a time, and gives up on
// the first failure: a bench with fewer connections than asked would
// report figures for a load nobody asked for.
func dialAll(ctx context.Context, peers []*peer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *peer)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(dialParallel, len(peers)) {
		wg.Go(func() {
			for p := range work {
				if err := p.dial(ctx); err != nil {
					select {
					case errs <- err:
					default:
					}
					cancel()
				}
			}
		})
	}
feed:
	for _, p := range peers {
		select {
		case work <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

// dial opens the first connection. A recipient asks for nothing older
// than what it sees now, and remembers that seq as its base.
func (p *peer) dial(ctx context.Context) error {
	if p.route {
		if err := p.routeHome(ctx); err != nil {
			return err
		}
	}
	cl, err := client.Dial(ctx, p.urls[0], p.opts)
	if err != nil {
		return fmt.Errorf("connect %s to %s: %w", p.key, p.urls[0], err)
	}
	if p.inbox != nil {
		p.inbox.base = cl.Welcome().LastSeq
	}
	p.mu.Lock()
	p.cl = cl
	p.mu.Unlock()
	return nil
}

// routeHome puts the key's home first among the peer's URLs. The home's
// URL is the one it advertises; the others keep their order after it.
func (p *peer) routeHome(ctx context.Context) error {
	r, err := client.Route(ctx, p.urls[0], p.key)
	if err != nil {
		return fmt.Errorf("--route: where does %s live: %w", p.key, err)
	}
	if r.WSURL == "" {
		return fmt.Errorf("--route: %s named no WebSocket URL for the home of %s", p.urls[0], p.key)
	}
	urls := []string{r.WSURL}
	for _, u := range p.urls {
		if u != r.WSURL {
			urls = append(urls, u)
		}
	}
	p.urls = urls
	return nil
}

// receive hands every delivery to onMessage and, when the connection
// breaks before stop ends, reconnects with since = the last seq received,
// so the inbox is replayed with nothing missed. Attempts go round the
// nodes, so a node that stopped does not strand its connections: any node
// serves any key. It returns once stop has ended and the connection with
// it.
func (p *peer) receive(stop context.Context, c *counters, drops *errorLog, onMessage func(*peer, shardgate.Message)) {
	backoff := 50 * time.Millisecond
	url := p.urls[0]
	for attempt := 0; ; {
		cl := p.client()
		for m := range cl.Messages() {
			onMessage(p, m)
		}
		if stop.Err() == nil {
			code := cl.CloseCode()
			drops.add(strconv.Itoa(code), fmt.Sprintf("%s on %s closed with code %d", p.key, url, code))
		}
		for {
			select {
			case <-stop.Done():
				return
			case <-time.After(backoff):
			}
			since := cl.LastSeq()
			opts := p.opts
			opts.Since = &since
			ctx, cancel := context.WithTimeout(stop, 10*time.Second)
			try := p.urls[attempt%len(p.urls)]
			next, err := client.Dial(ctx, try, opts)
			cancel()
			attempt++
			if err == nil {
				url = try
				c.reconnects.Add(1)
				if !p.swap(stop, next) {
					return
				}
				backoff = 50 * time.Millisecond
				break
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// waitNew waits until the connection that failed, old, has been replaced,
// so a retry does not fail again at once on the same closed connection.
func (p *peer) waitNew(ctx context.Context, old *client.Conn, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for p.client() == old && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// swap installs a new connection unless the run is already closing.
func (p *peer) swap(stop context.Context, next *client.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if stop.Err() != nil {
		next.Close()
		return false
	}
	p.cl = next
	return true
}

// closeAll closes every connection, many at once: Close waits for the
// server's answer, and doing thousands in turn would take minutes.
func closeAll(peers []*peer) {
	work := make(chan *peer)
	var wg sync.WaitGroup
	for range min(256, len(peers)) {
		wg.Go(func() {
			for p := range work {
				p.mu.Lock()
				cl := p.cl
				p.mu.Unlock()
				if cl != nil {
					cl.Close()
				}
			}
		})
	}
	for _, p := range peers {
		work <- p
	}
	close(work)
	wg.Wait()
}

// errKind names an error for the report: the JSON-RPC code, or what
// happened to the call.
func errKind(err error) string {
	var rpc *client.RPCError
	switch {
	case errors.As(err, &rpc):
		return fmt.Sprintf("%d", rpc.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, client.ErrClosed):
		return "closed"
	}
	return "other"
}

// retryable says whether the same send, with the same id, may succeed.
// overloadBackoff is how long a sender pauses after error 1002 (the node
// is over a rate or an in-flight bound) before its next send.
const overloadBackoff = 200 * time.Millisecond

// overloaded reports error 1002: rate limited or over an in-flight bound.
func overloaded(err error) bool {
	var rpc *client.RPCError
	return errors.As(err, &rpc) && rpc.Code == 1002
}

func retryable(err error) bool {
	var rpc *client.RPCError
	if errors.As(err, &rpc) {
		// 1002 is retryable for an application too, but the bench counts
		// it as a failed send and backs off (see overloaded).
		return rpc.Code == 1003
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrClosed)
}
