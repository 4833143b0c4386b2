package node

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
)

// registry lives on a key's home: which nodes hold connections of the key,
// and how many. It answers presence and tells the writer where to deliver.
type registry struct {
	mu   sync.RWMutex
	keys map[string]map[string]int
}

func newRegistry() *registry { return &registry{keys: map[string]map[string]int{}} }

// set records that node holds count connections of key (0 removes it).
func (r *registry) set(key, node string, count int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	nodes := r.keys[key]
	if count <= 0 {
		delete(nodes, node)
		if len(nodes) == 0 {
			delete(r.keys, key)
		}
		return
	}
	if nodes == nil {
		nodes = map[string]int{}
		r.keys[key] = nodes
	}
	nodes[node] = count
}

func (r *registry) nodes(key string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.keys[key]))
	for n := range r.keys[key] {
		out = append(out, n)
	}
	return out
}

func (r *registry) count(key string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := 0
	for _, v := range r.keys[key] {
		c += v
	}
	return c
}

func (r *registry) dropNode(node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, nodes := range r.keys {
		delete(nodes, node)
		if len(nodes) == 0 {
			delete(r.keys, k)
		}
	}
}

// prune forgets keys whose home is no longer here.
func (r *registry) prune(keep func(key string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.keys {
		if !keep(k) {
			delete(r.keys, k)
		}
	}
}

// localConns counts this node's own connections per key, so they can be
// re-registered with a key's new home after a move.
type localConns struct {
	mu     sync.Mutex
	counts map[string]int
}

func newLocalConns() *localConns { return &localConns{counts: map[string]int{}} }

func (l *localConns) add(key string, d int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts[key] + d
	if c <= 0 {
		delete(l.counts, key)
		return 0
	}
	l.counts[key] = c
	return c
}

func (l *localConns) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[key]
}

func (l *localConns) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// Attach registers one more local connection of key with key's home.
func (n *Node) Attach(ctx context.Context, key string) (shardgate.Attachment, error) {
	return n.conns.attach(ctx, key)
}

// Detach undoes one Attach. It does not wait: presence catches up.
func (n *Node) Detach(key string) { n.conns.detach(key) }

// deliverMsg pushes committed messages of Key to a node with connections
// of it; LastSeq alone (no Msgs) says the key has messages up to it that
// the node may not have been pushed.
type deliverMsg struct {
	Key     string              `json:"key"`
	Msgs    []shardgate.Message `json:"msgs,omitempty"`
	LastSeq uint64              `json:"last_seq,omitempty"`
}

// Publish fans a publication out live to every node that may have
// subscribers of its topic (interest.go); it is not stored.
func (n *Node) Publish(ctx context.Context, from, topic string, data json.RawMessage) (int, error) {
	if topic == "" || len(topic) > shardgate.MaxKeyBytes {
		return 0, shardgate.Errorf(shardgate.KindInvalid, "topic must be 1–%d bytes", shardgate.MaxKeyBytes)
	}
	if len(data) == 0 {
		return 0, shardgate.Errorf(shardgate.KindInvalid, "data is required")
	}
	pub := shardgate.Publication{Topic: topic, From: from, Data: data, TS: n.nowMS()}
	delivered := 0
	if n.conns.deliverer().DeliverPublication(pub) > 0 {
		delivered++
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name := range n.aliveMembers() {
		if name == n.name {
			continue
		}
		if !n.interest.wants(name, topic) {
			n.m.LinkPublicationsSkipped.Inc()
			continue
		}
		n.m.LinkPublicationsSent.Inc()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var got int
			if err := n.links.Call(c, name, methodPublish, publication(pub), &got); err == nil && got > 0 {
				mu.Lock()
				delivered++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return delivered, nil
}
