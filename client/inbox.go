package client

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
)

// inbox is the bounded receive buffer between the connections and the
// application. It puts inbox messages in seq order exactly once, whatever
// the connections deliver: replays after a reconnect, two connections at
// once while following a moved hint, or a message dropped because the
// buffer was full.
//
// When the buffer is full, live messages are not waited for (that would
// stall every call's response behind them) but dropped, and the inbox is
// "behind": once the application has made room, fill reads the missing
// messages with history calls, in pages no larger than the room. So a slow
// application costs history reads, never a lost message, and memory stays
// bounded by Config.Buffer.
type inbox struct {
	capacity int

	mu      sync.Mutex
	queue   []shardgate.Message
	last    uint64 // highest seq put in the queue
	known   bool   // last is meaningful (a message arrived or Since was set)
	highest uint64 // highest seq seen live on any connection
	behind  bool   // messages after last were dropped: fill must read them

	wake   chan struct{} // to the filler: behind, or room was made
	ready  chan struct{} // to the dispatcher: the queue is not empty
	handed atomic.Uint64 // highest seq the application has taken
}

func newInbox(capacity int, since *uint64) *inbox {
	in := &inbox{capacity: capacity, wake: make(chan struct{}, 1), ready: make(chan struct{}, 1)}
	if since != nil {
		in.last, in.known = *since, true
		in.handed.Store(*since)
	}
	return in
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// resumeFrom is the since of the next connection: after the last queued
// message, or nil (the server's ack cursor) when none came yet.
func (in *inbox) resumeFrom() *uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.known {
		return nil
	}
	v := in.last
	return &v
}

// offer takes one live message from a connection's reader. It never
// blocks.
func (in *inbox) offer(m shardgate.Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.known && m.Seq <= in.last {
		return // a replay or a second connection: already queued
	}
	in.highest = max(in.highest, m.Seq)
	if in.behind {
		return // fill will read it
	}
	if (in.known && m.Seq != in.last+1) || len(in.queue) >= in.capacity {
		in.behind = true
		signal(in.wake)
		return
	}
	in.push(m)
}

func (in *inbox) push(m shardgate.Message) {
	in.queue = append(in.queue, m)
	in.last, in.known = m.Seq, true
	signal(in.ready)
}

// fill reads what the inbox missed while behind, through history calls on
// conn, until it has caught up or ctx (the connection's life) ends.
func (in *inbox) fill(ctx context.Context, conn *Conn, timeout time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.wake:
		}
		for {
			in.mu.Lock()
			behind, room, since, known := in.behind, in.capacity-len(in.queue), in.last, in.known
			in.mu.Unlock()
			if !behind || room == 0 {
				break // wait for the next wake: more room, or behind again
			}
			if !known {
				since = 0
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			h, err := conn.History(cctx, since, min(room, 500))
			cancel()
			if err != nil {
				if ctx.Err() != nil || !Retryable(err) {
					return // the connection is ending; the next one replays
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			in.mu.Lock()
			for _, m := range h.Messages {
				if (!in.known || m.Seq > in.last) && len(in.queue) < in.capacity {
					in.push(m) // a seq past last+1 means retention dropped the ones between
				}
			}
			caught := in.last >= in.highest && (len(h.Messages) == 0 || in.last >= h.LastSeq)
			if caught {
				in.behind = false
			}
			in.mu.Unlock()
			if !caught && len(h.Messages) == 0 {
				select { // seen live but not readable yet: ask again shortly
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
}

// dispatch hands queued messages to out, one at a time, until ctx ends.
func (in *inbox) dispatch(ctx context.Context, out chan<- shardgate.Message) {
	for {
		in.mu.Lock()
		if len(in.queue) == 0 {
			in.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-in.ready:
			}
			continue
		}
		m := in.queue[0]
		in.queue[0] = shardgate.Message{}
		in.queue = in.queue[1:]
		in.mu.Unlock()
		signal(in.wake) // room for the filler
		// Counted before the hand-over (the application may ask right
		// after it) and taken back if the client stops instead.
		prev := in.handed.Swap(m.Seq)
		select {
		case out <- m:
		case <-ctx.Done():
			in.handed.Store(prev)
			return
		}
	}
}
