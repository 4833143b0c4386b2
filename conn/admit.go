package conn

import (
	"fmt"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/inflight"
)

// rateCloseWindow is the window over which Config.RateCloseAfter refusals
// close a connection.
const rateCloseWindow = 10 * time.Second

// pending is a request the reader took in and the handler has not yet
// answered. Its size is held on the connection's in-flight bound and, for
// a send, on the node's.
type pending struct {
	req  request
	size int64
	node bool // holds a unit of Config.NodeSends
}

// admit takes one client frame on the reader goroutine. A frame over the
// connection's rate, malformed, or over an in-flight bound is answered at
// once; the others are queued for the handler, which runs them one at a
// time, in order, so a client's sends are stored in the order it made
// them. The reader itself never waits for the engine: a client that sends
// faster than it is answered gets 1002 for the excess instead of a queue
// growing in the socket, and pings and pongs keep flowing meanwhile. It
// waits only for the writer, while answers fill half the send queue
// (waitForRoom): a client is paced by how fast it reads its answers.
func (c *conn) admit(data []byte) {
	if !c.lim.Allow() {
		// Refusals are counted over a window, not in a row: a flood still
		// gets a frame through each time the bucket refills, which would
		// reset a count in a row every few milliseconds.
		if now := time.Now(); now.Sub(c.refusedSince) > rateCloseWindow {
			c.refused, c.refusedSince = 0, now
		}
		c.refused++
		c.s.m.RateLimited.Inc()
		c.reply(idOf(data, c.s.cfg.MaxJSONDepth), nil, &rpcError{shardgate.CodeRateLimited, fmt.Sprintf("rate limited: at most %v requests per second", c.s.cfg.RateLimit)})
		if c.refused >= c.s.cfg.RateCloseAfter {
			c.closeWith(closePolicy, "rate limit exceeded", true)
		}
		return
	}
	req, rerr := decodeRequest(data, c.s.cfg.MaxJSONDepth)
	if rerr != nil {
		c.reply(req.ID, nil, rerr)
		return
	}
	p := pending{req: req, size: int64(len(data))}
	if !c.reqs.Acquire(p.size) {
		n, b := c.reqs.InFlight()
		c.shed(req.ID, "connection", shardgate.Errorf(shardgate.KindRateLimited, "overloaded: this connection has %d requests (%d bytes) waiting for answers, the limit is %d requests and %d bytes; wait for answers before sending more",
			n, b, c.s.cfg.MaxInFlight, c.s.cfg.MaxInFlightBytes))
		return
	}
	if req.Method == "send" {
		if !c.s.cfg.NodeSends.Acquire(p.size) {
			c.reqs.Release(p.size)
			c.shed(req.ID, "node", NodeOverloaded(c.s.cfg.NodeName, c.s.cfg.NodeSends))
			return
		}
		p.node = true
	}
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		c.release(p)
		return
	}
	c.queued = append(c.queued, p)
	if !c.handling {
		c.handling = true
		c.s.wg.Go(c.handleLoop)
	}
	c.mu.Unlock()
}

// shed answers a request refused by an in-flight bound.
func (c *conn) shed(id []byte, bound string, err error) {
	c.s.m.RequestsShed.WithLabelValues(bound).Inc()
	c.reply(id, nil, toRPCError(err))
}

// NodeOverloaded is the refusal of a send over the node's in-flight bound
// l (Config.NodeSends): 1002 to a client, HTTP 429 on the admin API.
func NodeOverloaded(node string, l *inflight.Limit) error {
	n, b := l.InFlight()
	maxN, maxB := l.Max()
	return shardgate.Errorf(shardgate.KindRateLimited, "overloaded: node %s has %d sends (%d bytes) in flight, the limit is %d sends and %d bytes; retry later", node, n, b, maxN, maxB)
}

func (c *conn) release(p pending) {
	c.reqs.Release(p.size)
	if p.node {
		c.s.cfg.NodeSends.Release(p.size)
	}
}

// handleLoop answers queued requests one at a time and exits as soon as
// the queue is empty, so an idle connection parks no handler. Once the
// connection is closing, what is still queued is dropped unanswered: the
// client cannot read an answer any more, and an unanswered send is one it
// retries with the same id.
func (c *conn) handleLoop() {
	for {
		c.mu.Lock()
		if len(c.queued) == 0 || c.closing || c.closed {
			rest := c.queued
			c.queued = nil
			c.handling = false
			c.mu.Unlock()
			for _, p := range rest {
				c.release(p)
			}
			return
		}
		p := c.queued[0]
		c.queued = c.queued[1:]
		c.mu.Unlock()
		if !c.waitForAnswerRoom() {
			c.release(p)
			continue
		}
		if p.req.Method == "history" && c.s.answerBytes.Load() >= c.s.cfg.NodeAnswerQueueBytes {
			c.release(p)
			c.shed(p.req.ID, "node", shardgate.Errorf(shardgate.KindRateLimited,
				"overloaded: node %s holds %d MiB of answers its clients have not read, the limit is %d MiB; retry later",
				c.s.cfg.NodeName, c.s.answerBytes.Load()>>20, c.s.cfg.NodeAnswerQueueBytes>>20))
			continue
		}
		result, rerr, expired := c.answer(p.req)
		// Released before the answer leaves, so a client that sends its
		// next request on reading the answer finds the room it expects.
		c.release(p)
		c.reply(p.req.ID, result, rerr)
		if expired {
			c.closeWith(closeUnauthorized, reasonExpired, true)
		}
	}
}
