package node

import (
	"sync"

	"github.com/shardgate/shardgate"
)

// bus fans events out to subscribers without ever blocking the publisher: a
// subscriber that does not keep up loses events (the dashboard re-reads
// state on the next stats event anyway).
type bus struct {
	mu     sync.Mutex
	subs   map[chan shardgate.Event]struct{}
	closed bool
}

func newBus() *bus { return &bus{subs: map[chan shardgate.Event]struct{}{}} }

func (b *bus) publish(e shardgate.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (b *bus) subscribe() (<-chan shardgate.Event, func()) {
	ch := make(chan shardgate.Event, 256)
	b.mu.Lock()
	if b.closed {
		close(ch)
	} else {
		b.subs[ch] = struct{}{}
	}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			if _, ok := b.subs[ch]; ok {
				delete(b.subs, ch)
				close(ch)
			}
			b.mu.Unlock()
		})
	}
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		close(ch)
		delete(b.subs, ch)
	}
}

// Subscribe streams engine events (member, table, migration, stats).
func (n *Node) Subscribe() (<-chan shardgate.Event, func()) { return n.events.subscribe() }

func joinNames(names []string) string {
	out := ""
	for i, s := range names {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
