package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
)

// eventLog is this node's copy of the cluster's event log. Entries arrive
// only with tables (the coordinator appends them to the table it
// publishes), are persisted in the store and kept up to a bound, so every
// node holds the same log and keeps it across restarts.
type eventLog struct {
	store eventStore
	limit int

	mu   sync.Mutex // serialises writes and guards last
	last uint64
	// wake is closed and replaced whenever entries are added.
	wake chan struct{}
}

func newEventLog(st eventStore, limit int) (*eventLog, error) {
	if st == nil {
		return nil, errors.New("no store to keep the event log in")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("event log size must be positive, not %d", limit)
	}
	l := &eventLog{store: st, limit: limit, wake: make(chan struct{})}
	_, last, err := st.EventBounds()
	if err != nil {
		return nil, err
	}
	l.last = last
	return l, nil
}

// lastSeq is the newest entry this node holds.
func (l *eventLog) lastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// changed returns a channel closed at the next append.
func (l *eventLog) changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake
}

// add stores entries (consecutive sequence numbers) that end the log at
// upto. Entries at or before the end of the log replace what follows them
// (a table of the same version from another coordinator won). Entries that
// would leave a gap are refused: the caller fetches what is missing first
// (catchUpEvents).
func (l *eventLog) add(entries []shardgate.LogEntry, upto uint64) (bool, error) {
	if len(entries) == 0 {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	first := entries[0].Seq
	if first > l.last+1 || entries[len(entries)-1].Seq != upto {
		return false, nil
	}
	vals := make([][]byte, len(entries))
	for i, e := range entries {
		raw, err := json.Marshal(e)
		if err != nil {
			return false, fmt.Errorf("node: encode event %d: %w", e.Seq, err)
		}
		vals[i] = raw
	}
	if err := l.store.PutEvents(first, vals, l.limit); err != nil {
		return false, err
	}
	l.last = upto
	close(l.wake)
	l.wake = make(chan struct{})
	return true, nil
}

// skipTo moves the end of the log to seq when peers no longer hold the
// entries before it (the log is bounded): fetching resumes after seq.
func (l *eventLog) skipTo(seq uint64) {
	l.mu.Lock()
	l.last = seq
	l.mu.Unlock()
}

// linkRoutes are the node-link methods the event log serves: pages of
// entries for a peer catching up.
func (l *eventLog) linkRoutes() []linkRoute {
	return []linkRoute{
		{methodGetEvents, typed(func(_ context.Context, _ string, r eventsReq) (any, error) {
			return l.read(r.Since, min(max(r.Limit, 1), 512))
		})},
	}
}

// read returns up to limit entries after since, oldest first.
func (l *eventLog) read(since uint64, limit int) ([]shardgate.LogEntry, error) {
	_, vals, err := l.store.Events(since, limit)
	if err != nil {
		return nil, err
	}
	out := make([]shardgate.LogEntry, 0, len(vals))
	for _, v := range vals {
		var e shardgate.LogEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("node: decode stored event: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// logInstalled records the entries of a table just installed, fetching any
// entries before them that this node missed from peer (or from any live
// member when peer is empty).
func (n *Node) logInstalled(t shard.Table, peer string) {
	ok, err := n.evlog.add(t.Events, t.EventSeq)
	if err != nil {
		n.log.Warn("store event log", "err", err)
		return
	}
	if ok && n.evlog.lastSeq() >= t.EventSeq {
		return
	}
	n.goFunc(func() { n.catchUpEvents(peer, t.EventSeq) })
}

type eventsReq struct {
	Since uint64 `json:"since"`
	Limit int    `json:"limit"`
}

// catchUpEvents fetches the entries after this node's last up to upto.
func (n *Node) catchUpEvents(peer string, upto uint64) {
	peers := []string{peer}
	if peer == "" || peer == n.name {
		peers = peers[:0]
		for name := range n.aliveMembers() {
			if name != n.name {
				peers = append(peers, name)
			}
		}
	}
	for _, p := range peers {
		for n.evlog.lastSeq() < upto && n.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
			var page []shardgate.LogEntry
			err := n.links.Call(ctx, p, methodGetEvents, eventsReq{Since: n.evlog.lastSeq(), Limit: 512}, &page)
			cancel()
			if err != nil || len(page) == 0 {
				break
			}
			last := page[len(page)-1].Seq
			if page[0].Seq != n.evlog.lastSeq()+1 {
				// The peer no longer has the entries this node lacks
				// (bounded log): start again from what it has.
				n.log.Info("event log: entries lost to the bound", "from", n.evlog.lastSeq()+1, "to", page[0].Seq-1)
				n.evlog.skipTo(page[0].Seq - 1)
			}
			if _, err := n.evlog.add(page, last); err != nil {
				n.log.Warn("store fetched events", "peer", p, "err", err)
				return
			}
		}
		if n.evlog.lastSeq() >= upto {
			return
		}
	}
}

// EventLog returns up to limit entries of the cluster's event log after
// since, oldest first, and the newest sequence number this node holds.
func (n *Node) EventLog(_ context.Context, since uint64, limit int) ([]shardgate.LogEntry, uint64, error) {
	last := n.evlog.lastSeq()
	entries, err := n.evlog.read(since, limit)
	return entries, last, err
}

// LogChanged returns a channel closed when entries are added to the log.
func (n *Node) LogChanged() <-chan struct{} { return n.evlog.changed() }
