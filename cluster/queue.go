package cluster

import (
	"context"
	"sync"
)

// maxQueuedEvents caps the queue so that a program that never reads Events
// cannot grow without bound. Membership changes are rare; reaching the cap
// means nobody is listening, and the oldest events are the least useful.
const maxQueuedEvents = 1 << 16

// eventQueue decouples memberlist's callbacks from the consumer of Events.
// push never blocks: memberlist calls it with its node lock held, and a
// stuck consumer must not stall failure detection. One goroutine (run)
// drains the queue into the consumer's channel.
type eventQueue struct {
	mu      sync.Mutex
	items   []Event
	dropped uint64
	kick    chan struct{} // capacity 1: "there is something to drain"
}

func newEventQueue() *eventQueue {
	return &eventQueue{kick: make(chan struct{}, 1)}
}

// push appends e and wakes the drainer. It reports whether an old event had
// to be dropped to make room.
func (q *eventQueue) push(e Event) (dropped bool) {
	q.mu.Lock()
	if len(q.items) >= maxQueuedEvents {
		q.items = q.items[1:]
		q.dropped++
		dropped = true
	}
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default: // already kicked
	}
	return dropped
}

// Dropped counts events discarded because the queue was full.
func (q *eventQueue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// take removes and returns everything queued.
func (q *eventQueue) take() []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// run delivers queued events to out, in order, until ctx is done.
func (q *eventQueue) run(ctx context.Context, out chan<- Event) {
	for {
		for _, e := range q.take() {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-q.kick:
		case <-ctx.Done():
			return
		}
	}
}
