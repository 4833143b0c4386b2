package node

import (
	"sync"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
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

// historyBook keeps, per shard, the last ownership changes this node saw,
// so operators can ask why a shard moved.
type historyBook struct {
	mu    sync.Mutex
	limit int
	by    map[int][]shardgate.OwnershipChange
}

func newHistoryBook(limit int) *historyBook {
	return &historyBook{limit: limit, by: map[int][]shardgate.OwnershipChange{}}
}

func (h *historyBook) record(old, t shard.Table, reason string, at int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, a := range t.Shards {
		var prev shard.Assignment
		if id < len(old.Shards) {
			prev = old.Shards[id]
		}
		if prev.Owner == a.Owner && equalStrings(prev.Backups, a.Backups) && equalStrings(prev.Pending, a.Pending) {
			continue
		}
		c := shardgate.OwnershipChange{Shard: id, Version: t.Version, At: at, From: prev.Owner, To: a.Owner,
			Backups: append([]string(nil), a.Backups...), Reason: reason}
		if len(a.Pending) > 0 {
			c.Reason = reason + " (copying to " + joinNames(a.Pending) + ")"
		}
		list := append(h.by[id], c)
		if len(list) > h.limit {
			list = list[len(list)-h.limit:]
		}
		h.by[id] = list
	}
}

func (h *historyBook) get(id int) []shardgate.OwnershipChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]shardgate.OwnershipChange{}, h.by[id]...)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

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
