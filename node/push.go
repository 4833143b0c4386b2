package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
)

// Pushes of committed messages to the nodes holding their keys'
// connections. The shard writer only queues them: each peer has one
// bounded queue and one goroutine that sends it, so a slow or unreachable
// peer never holds up a commit. When a peer's queue is full, a push loses
// its messages but not its news: the queue keeps, per key, the highest seq
// it dropped, and sends that as a catch-up hint when there is room, so the
// connections read the dropped messages from history.

// pushTimeout bounds one push, dial included.
const pushTimeout = 2 * time.Second

type pushQueue struct {
	d    *pusherDeps // the pushers' dependencies, shared by every queue
	peer string
	wake chan struct{}

	mu     sync.Mutex
	queue  []deliverMsg
	msgs   int
	bytes  int
	behind map[string]uint64 // key → highest seq dropped, to announce
	stop   chan struct{}     // closed when the peer leaves
}

// pushers owns the per-peer queues of a node.
type pushers struct {
	pusherDeps
	mu sync.Mutex
	qs map[string]*pushQueue
}

// pusherDeps is what the pushers are given; they reach nothing else.
type pusherDeps struct {
	ctx   context.Context // ends every queue's goroutine
	links Links
	m     *metrics.Metrics
	log   *slog.Logger
	// maxMsgs and maxBytes bound one peer's queue.
	maxMsgs, maxBytes int
	// goFunc starts a goroutine that the node waits for at Close.
	goFunc func(func())
}

func newPushers(d pusherDeps) (*pushers, error) {
	if d.ctx == nil || d.links == nil || d.goFunc == nil {
		return nil, errors.New("pushers: a dependency is missing")
	}
	if d.maxMsgs <= 0 || d.maxBytes <= 0 {
		return nil, errors.New("pushers: push queue bounds must be positive")
	}
	if d.m == nil {
		d.m = metrics.New()
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return &pushers{pusherDeps: d, qs: map[string]*pushQueue{}}, nil
}

// push queues msgs of key for peer. It never blocks.
func (ps *pushers) push(peer, key string, msgs []shardgate.Message) {
	ps.mu.Lock()
	q := ps.qs[peer]
	if q == nil {
		q = &pushQueue{d: &ps.pusherDeps, peer: peer, wake: make(chan struct{}, 1), behind: map[string]uint64{}, stop: make(chan struct{})}
		ps.qs[peer] = q
		ps.goFunc(q.run)
	}
	ps.mu.Unlock()
	q.add(key, msgs)
}

func msgBytes(msgs []shardgate.Message) int {
	b := 0
	for _, m := range msgs {
		b += len(m.Data) + len(m.From) + len(m.ID) + 64
	}
	return b
}

func (q *pushQueue) add(key string, msgs []shardgate.Message) {
	size := msgBytes(msgs)
	q.mu.Lock()
	if q.msgs+len(msgs) > q.d.maxMsgs || q.bytes+size > q.d.maxBytes {
		last := msgs[len(msgs)-1].Seq
		q.behind[key] = max(q.behind[key], last)
		q.mu.Unlock()
		q.d.m.DeliveryPushDropped.Add(float64(len(msgs)))
	} else {
		q.queue = append(q.queue, deliverMsg{Key: key, Msgs: msgs})
		q.msgs += len(msgs)
		q.bytes += size
		q.mu.Unlock()
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take empties the queue; catch-up hints follow the messages.
func (q *pushQueue) take() []deliverMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.queue
	for key, seq := range q.behind {
		out = append(out, deliverMsg{Key: key, LastSeq: seq})
	}
	q.queue, q.msgs, q.bytes = nil, 0, 0
	clear(q.behind)
	return out
}

// retryLater keeps the news of a failed push as a catch-up hint.
func (q *pushQueue) retryLater(d deliverMsg) {
	seq := d.LastSeq
	if len(d.Msgs) > 0 {
		seq = max(seq, d.Msgs[len(d.Msgs)-1].Seq)
	}
	q.mu.Lock()
	q.behind[d.Key] = max(q.behind[d.Key], seq)
	q.mu.Unlock()
}

// drop stops the queue of a peer that left; its connections are gone.
func (ps *pushers) drop(peer string) {
	ps.mu.Lock()
	q := ps.qs[peer]
	delete(ps.qs, peer)
	ps.mu.Unlock()
	if q != nil {
		close(q.stop)
	}
}

// run sends the queue until the node stops or the peer leaves. A push that
// fails is kept as a catch-up hint and retried after a pause.
func (q *pushQueue) run() {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-q.d.ctx.Done():
			return
		case <-q.stop:
			return
		case <-q.wake:
		}
		failed := false
		for _, d := range q.take() {
			ctx, cancel := context.WithTimeout(q.d.ctx, pushTimeout)
			err := q.d.links.Notify(ctx, q.peer, methodDeliver, d)
			cancel()
			if err != nil {
				q.d.log.Debug("push", "peer", q.peer, "key", d.Key, "err", err)
				q.d.m.DeliveryPushDropped.Add(float64(len(d.Msgs)))
				q.retryLater(d)
				failed = true
			}
		}
		if !failed {
			backoff = 100 * time.Millisecond
			continue
		}
		select {
		case <-q.d.ctx.Done():
			return
		case <-q.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}
