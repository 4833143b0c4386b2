package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate/client"
)

// receiver is one user's live view of its inbox: what arrived, in which
// order, and what arrived twice.
type receiver struct {
	key string
	idx int

	mu      sync.Mutex
	seen    []bool // by seq
	count   int
	maxSeq  uint64
	doubled int
	conns   []string // the last few connections: node@time since=N
}

// connected notes a new connection, keeping the last eight.
func (r *receiver) connected(node string, since uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, fmt.Sprintf("%s@%s since=%d", node, time.Now().UTC().Format("15:04:05.000"), since))
	if len(r.conns) > 8 {
		r.conns = r.conns[1:]
	}
}

// nodeName lists the receiver's last connections, newest last.
func (r *receiver) nodeName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.conns, " ")
}

// deliver notes one delivery. A seq seen before is a doubled delivery and
// is kept out of the Recorder, so that the Recorder's order check sees the
// stream after de-duplication: any seq lower than one already delivered is
// then a real reordering (or a gap that was filled late).
func (r *receiver) deliver(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq < uint64(len(r.seen)) && r.seen[seq] {
		r.doubled++
		return false
	}
	for uint64(len(r.seen)) <= seq {
		r.seen = append(r.seen, false)
	}
	r.seen[seq] = true
	r.count++
	r.maxSeq = max(r.maxSeq, seq)
	return true
}

func (r *receiver) resumeAt() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxSeq
}

// missing lists the seqs 1..last that never arrived.
func (r *receiver) missing(last uint64) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uint64
	for s := uint64(1); s <= last; s++ {
		if s >= uint64(len(r.seen)) || !r.seen[s] {
			out = append(out, s)
		}
	}
	return out
}

func (r *receiver) doubles() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.doubled
}

// receive keeps one connection for the key open until ctx ends, and on
// every reconnect asks for a replay after the last seq it holds (since=),
// which must hand over to live delivery with nothing missed or doubled.
// Every 3 s it checks the connection answers at all: a frozen node keeps
// TCP open and would otherwise hold the user silently.
func (w *Workload) receive(ctx context.Context, r *receiver) {
	l := &link{w: w, key: r.key, idx: r.idx}
	probe := time.NewTicker(3 * time.Second)
	defer probe.Stop()
	for ctx.Err() == nil {
		since := r.resumeAt()
		l.since = &since
		c, err := l.get(ctx)
		if err != nil {
			sleepCtx(ctx, 300*time.Millisecond)
			continue
		}
		r.connected(c.Welcome().Node, since)
		w.drain(ctx, r, c, probe.C)
		l.c = nil
		c.Close()
	}
}

// drain reads one connection until it ends or looks dead; the caller
// closes it.
func (w *Workload) drain(ctx context.Context, r *receiver, c *client.Conn, probe <-chan time.Time) {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return
			}
			if r.deliver(m.Seq) {
				w.rec.Delivered(r.key, m.Seq)
			} else {
				w.rec.Redelivered(r.key, m.Seq)
			}
		case <-probe:
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.History(pctx, r.resumeAt(), 1)
			cancel()
			var rpc *client.RPCError
			if err != nil && !errors.As(err, &rpc) {
				// Give up on this connection and read nothing more from
				// it: while a client closes, messages still in flight
				// may be dropped at random, and counting the ones that
				// got through would move the resume point past the
				// dropped ones.
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// receiversGone reports whether the receivers' context has ended.
func (w *Workload) receiversGone() bool { return w.recvCtx.Err() != nil }

// delivered is the number of distinct messages received.
func (w *Workload) delivered() int {
	n := 0
	for _, r := range w.recvs {
		r.mu.Lock()
		n += r.count
		r.mu.Unlock()
	}
	return n
}
