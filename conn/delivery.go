package conn

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// Delivery tuning. maxPending bounds the live messages one connection keeps
// while it catches up; beyond it they are dropped and read back from
// history, which has them, since the engine delivers only stored messages.
const (
	maxPending      = 1024
	maxFillFailures = 10
)

// delivery is the per-connection ordering state: every seq reaches the
// client once, in order. It is guarded by conn.mu.
//
// While filling is false, a live message with seq delivered+1 is queued at
// once. Anything else newer than delivered (a gap, or out of order) is
// stashed in pending, raises target, and starts the filler: one goroutine
// that moves delivered up to target from pending and, where pending has a
// hole, from Backend.History. While it runs, live messages only go to
// pending, so the filler is the only one queueing messages.
type delivery struct {
	ready      bool   // welcome queued and start point known
	filling    bool   // the filler runs (or, before ready, live messages wait)
	delivered  uint64 // highest seq queued to the client
	target     uint64 // highest seq known to exist
	pending    map[uint64][]byte
	fillCancel context.CancelFunc
}

// Deliver hands messages of key's inbox to its local connections. They may
// be duplicated, out of order or have gaps; each connection sorts that out.
// It never blocks.
func (s *Server) Deliver(key string, msgs []shardgate.Message) {
	conns := s.connsOf(key)
	if len(conns) == 0 || len(msgs) == 0 {
		return
	}
	// Encode once for all of the key's connections; a message that cannot
	// be encoded is left to the filler, as if it had never arrived.
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		frames[i], _ = encodeNotification("message", m)
	}
	for _, c := range conns {
		c.deliverLive(msgs, frames)
	}
}

// CatchUp tells key's local connections that its inbox holds messages up
// to lastSeq: those they were not pushed (their key's home changed before
// it knew of this node) are read from history. It never blocks.
func (s *Server) CatchUp(key string, lastSeq uint64) {
	for _, c := range s.connsOf(key) {
		c.mu.Lock()
		c.target = max(c.target, lastSeq)
		c.kickLocked()
		c.mu.Unlock()
	}
}

func (c *conn) deliverLive(msgs []shardgate.Message, frames [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range msgs {
		if c.closing || c.closed {
			return
		}
		switch {
		case m.Seq <= c.delivered:
			// a duplicate
		case !c.filling && m.Seq == c.delivered+1 && frames[i] != nil:
			if c.enqueueLocked(frame{kind: frameNotice, data: frames[i]}) {
				c.delivered = m.Seq
			}
		default:
			c.stashLocked(m.Seq, frames[i])
		}
	}
	c.kickLocked()
}

func (c *conn) stashLocked(seq uint64, f []byte) {
	c.target = max(c.target, seq)
	if f == nil || len(c.pending) >= maxPending {
		return
	}
	if c.pending == nil {
		c.pending = make(map[uint64][]byte)
	}
	c.pending[seq] = f
}

// startDelivery queues the welcome and makes the connection ready, in one
// step: a notice (moved, a message) raised as soon as the client has read
// its welcome is queued, not dropped. Messages after begin are due, and
// the inbox holds at least up to lastSeq.
func (c *conn) startDelivery(welcome []byte, begin, lastSeq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(frame{kind: frameText, data: welcome})
	c.ready = true
	c.filling = false
	c.delivered = begin
	c.target = max(c.target, lastSeq)
	c.kickLocked()
	if !c.filling {
		c.pending = nil
	}
}

// kickLocked starts the filler when the connection is behind.
func (c *conn) kickLocked() {
	if !c.ready || c.filling || c.closing || c.closed || c.delivered >= c.target {
		return
	}
	c.filling = true
	ctx, cancel := context.WithCancel(c.s.ctx)
	c.fillCancel = cancel
	c.s.wg.Go(func() { c.fill(ctx) })
}

func (c *conn) stopFillLocked() {
	c.filling = false
	c.pending = nil
	if c.fillCancel != nil {
		c.fillCancel()
		c.fillCancel = nil
	}
}

// fill brings delivered up to target, then exits. Pages wait for room in
// the send queue, so a long replay slows to the client's pace instead of
// overflowing it.
func (c *conn) fill(ctx context.Context) {
	failures := 0
	for {
		c.mu.Lock()
		c.drainPendingLocked()
		if c.closing || c.closed || c.delivered >= c.target || ctx.Err() != nil {
			c.stopFillLocked()
			c.mu.Unlock()
			return
		}
		if c.roomLocked() < c.s.cfg.HistoryPage {
			wait := make(chan struct{})
			c.roomWait = wait
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
			}
			continue
		}
		from := c.delivered
		c.mu.Unlock()
		if c.fillPage(ctx, from) {
			failures = 0
			continue
		}
		if failures++; failures >= maxFillFailures {
			c.s.log.Warn("giving up on a gap in delivery", "key", c.key, "after", from)
			c.closeWith(websocket.CloseInternalServerErr, fmt.Sprintf("cannot load messages after seq %d: reconnect with since=%d", from, from), true)
			continue
		}
		select {
		case <-time.After(min(50*time.Millisecond<<failures, 2*time.Second)):
		case <-ctx.Done():
		}
	}
}

// drainPendingLocked queues stashed messages that continue the sequence.
func (c *conn) drainPendingLocked() {
	for len(c.pending) > 0 {
		next := c.delivered + 1
		f, ok := c.pending[next]
		if !ok {
			break
		}
		delete(c.pending, next)
		if !c.enqueueLocked(frame{kind: frameNotice, data: f}) {
			return
		}
		c.delivered = next
	}
	for seq := range c.pending {
		if seq <= c.delivered {
			delete(c.pending, seq)
		}
	}
}

// fillPage reads one page after from and queues it. It reports whether the
// connection moved forward.
func (c *conn) fillPage(ctx context.Context, from uint64) bool {
	hctx, cancel := context.WithTimeout(ctx, c.s.cfg.RequestTimeout)
	res, err := c.s.backend.History(hctx, c.key, from, c.s.cfg.HistoryPage)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.s.log.Debug("history read for delivery failed", "key", c.key, "after", from, "err", err)
		}
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = max(c.target, res.LastSeq)
	progressed := false
	if res.FirstSeq > c.delivered+1 {
		// Retention removed these while the connection was behind: no
		// one can deliver them any more, so delivery carries on after.
		c.s.log.Debug("messages removed by retention skipped", "key", c.key, "from", c.delivered+1, "to", res.FirstSeq-1)
		c.delivered = res.FirstSeq - 1
		progressed = true
	}
	for _, m := range res.Messages {
		if m.Seq <= c.delivered {
			continue
		}
		if m.Seq > c.delivered+1 {
			// History has no such seq: retention dropped it, so no one
			// can ever deliver it. Carry on after the hole.
			c.s.log.Warn("inbox has a hole, skipping it", "key", c.key, "from", c.delivered+1, "to", m.Seq-1)
		}
		f, err := encodeNotification("message", m)
		if err != nil || !c.enqueueLocked(frame{kind: frameNotice, data: f}) {
			return progressed
		}
		c.delivered = m.Seq
		progressed = true
	}
	return progressed
}
