package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/link/wire"
)

// Topic interest. Each node tells the others which topics it has local
// subscribers of (the whole set, on every change and every
// interestRefresh), and a publication is sent only to the nodes whose
// summary names its topic. A node that has told us nothing, or nothing for
// interestTTL, or that has more topics than a summary carries, is sent
// everything, as before summaries existed: a wrong guess costs a link
// message, never a delivery.
//
// Subscribe and publish race as follows. The first local subscriber of a
// topic bumps this node's summary version; the subscribe is answered only
// once every live peer has confirmed a summary of at least that version
// (AwaitTopicInterest), or after interestWait. A peer installs a summary
// before confirming it, so a publication that reaches its node after the
// subscribe was answered is sent to the subscriber's node: the guarantee
// publications had without summaries. Only a peer that could not be
// reached within interestWait may keep an older summary, for at most
// interestTTL or until a refresh gets through; publications are at most
// once, and from such a peer they could fail anyway.

const (
	methodInterest = "interest"
	// interestRefresh is how often the summary is re-sent to every live
	// peer, whether or not it changed: it repairs a lost update and tells
	// peers that joined since.
	interestRefresh = 5 * time.Second
	// interestTTL is how long a peer's summary is trusted without a refresh.
	interestTTL = 3 * interestRefresh
	// interestWait bounds how long a subscribe waits for its peers to
	// confirm the new summary: one round trip when they answer, this long
	// only when one of them does not (a summary round then waits for its
	// slowest peer, up to interestCallTimeout, before the next begins).
	interestWait = 3 * time.Second
	// interestCallTimeout bounds one summary sent to one peer.
	interestCallTimeout = 2 * time.Second
	// A summary past these sizes says "everything" instead of listing.
	maxInterestTopics = 10000
	maxInterestBytes  = 512 << 10
)

// interestMsg is a node's whole interest. Epoch is when its process
// started (versions restart at 1 with it), so a summary from before a
// restart never replaces a newer one.
type interestMsg struct {
	Epoch   uint64   `json:"epoch"`
	Version uint64   `json:"version"`
	All     bool     `json:"all,omitempty"`
	Topics  []string `json:"topics,omitempty"`
}

// interestDeps is what the interest part needs of the node.
type interestDeps struct {
	name  string
	ctx   context.Context // ends with the node
	log   *slog.Logger
	links Links
	alive func() map[string]cluster.Member // members publications may come from
	sent  prometheus.Counter               // summaries a peer confirmed
}

// interest is this node's side of the summaries: its own topics and what
// it knows of its peers'.
type interest struct {
	interestDeps
	epoch uint64
	wake  chan struct{} // capacity 1: the summary changed

	mu        sync.Mutex
	topics    map[string]uint64 // local topic → version that added it
	bytes     int               // sum of len(topic)
	version   uint64
	acked     map[string]uint64 // peer → highest version it confirmed
	confirmed chan struct{}     // closed and replaced whenever acked grows
	views     map[string]interestView
}

// interestView is what a peer last told us.
type interestView struct {
	epoch, version uint64
	all            bool
	topics         map[string]struct{}
	at             time.Time
}

func newInterest(d interestDeps) *interest {
	return &interest{
		interestDeps: d, epoch: uint64(time.Now().UnixNano()), wake: make(chan struct{}, 1),
		topics: map[string]uint64{}, acked: map[string]uint64{},
		confirmed: make(chan struct{}), views: map[string]interestView{},
	}
}

// TopicInterest records that this node has (or no longer has) subscribers
// of topic (conn.Backend). It never blocks: the summary leaves from loop.
func (n *Node) TopicInterest(topic string, interested bool) {
	i := n.interest
	i.mu.Lock()
	_, had := i.topics[topic]
	switch {
	case interested && !had:
		i.version++
		i.topics[topic] = i.version
		i.bytes += len(topic)
	case !interested && had:
		i.version++
		delete(i.topics, topic)
		i.bytes -= len(topic)
	default:
		i.mu.Unlock()
		return
	}
	i.mu.Unlock()
	select {
	case i.wake <- struct{}{}:
	default:
	}
}

// AwaitTopicInterest returns once every live peer has confirmed a summary
// that names topic, or after interestWait, or when ctx ends. A subscribe
// calls it before answering the client.
func (n *Node) AwaitTopicInterest(ctx context.Context, topic string) {
	n.interest.await(ctx, topic)
}

func (i *interest) await(ctx context.Context, topic string) {
	timer := time.NewTimer(interestWait)
	defer timer.Stop()
	for {
		alive := i.alive()
		i.mu.Lock()
		v, ok := i.topics[topic]
		ch := i.confirmed
		done := !ok
		if ok {
			done = true
			for name := range alive {
				if name != i.name && i.acked[name] < v {
					done = false
					break
				}
			}
		}
		i.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		case <-i.ctx.Done():
			return
		}
	}
}

// loop sends the summary to the peers that lack its latest version at
// every change, and to every live peer each interestRefresh.
func (i *interest) loop() {
	t := time.NewTicker(interestRefresh)
	defer t.Stop()
	i.broadcast(true) // peers send everything to a node they know nothing of
	for {
		select {
		case <-i.ctx.Done():
			return
		case <-i.wake:
			i.broadcast(false)
		case <-t.C:
			i.broadcast(true)
		}
	}
}

// summary is the message for the current interest.
func (i *interest) summary() interestMsg {
	i.mu.Lock()
	defer i.mu.Unlock()
	msg := interestMsg{Epoch: i.epoch, Version: i.version}
	if len(i.topics) > maxInterestTopics || i.bytes > maxInterestBytes {
		msg.All = true
		return msg
	}
	msg.Topics = make([]string, 0, len(i.topics))
	for t := range i.topics {
		msg.Topics = append(msg.Topics, t)
	}
	return msg
}

// broadcast sends the summary to the live peers (all of them, or those
// that have not confirmed it) in parallel and waits for them all, so
// changes made meanwhile leave together in the next round.
func (i *interest) broadcast(everyone bool) {
	msg := i.summary()
	var wg sync.WaitGroup
	for name := range i.alive() {
		if name == i.name {
			continue
		}
		i.mu.Lock()
		current := i.acked[name] >= msg.Version
		i.mu.Unlock()
		if current && !everyone {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(i.ctx, interestCallTimeout)
			defer cancel()
			if err := i.links.Call(ctx, name, methodInterest, msg, nil); err != nil {
				i.log.Debug("topic interest not sent", "peer", name, "err", err)
				return
			}
			i.sent.Inc()
			i.mu.Lock()
			if msg.Version > i.acked[name] {
				i.acked[name] = msg.Version
				close(i.confirmed)
				i.confirmed = make(chan struct{})
			}
			i.mu.Unlock()
		}()
	}
	wg.Wait()
}

// receive installs a peer's summary unless it is older than the one held.
func (i *interest) receive(from string, msg interestMsg) {
	i.mu.Lock()
	defer i.mu.Unlock()
	old, ok := i.views[from]
	switch {
	case ok && msg.Epoch == old.epoch && msg.Version == old.version:
		old.at = time.Now()
		i.views[from] = old
		return
	case ok && (msg.Epoch < old.epoch || msg.Epoch == old.epoch && msg.Version < old.version):
		return
	}
	v := interestView{epoch: msg.Epoch, version: msg.Version, all: msg.All, at: time.Now(),
		topics: make(map[string]struct{}, len(msg.Topics))}
	for _, t := range msg.Topics {
		v.topics[t] = struct{}{}
	}
	i.views[from] = v
}

// linkRoutes are the node-link methods of topic interest.
func (i *interest) linkRoutes() []linkRoute {
	return []linkRoute{{methodInterest, typed(func(_ context.Context, from string, r interestMsg) (any, error) {
		i.receive(from, r)
		return struct{}{}, nil
	})}}
}

// wants says whether peer may have subscribers of topic: true unless its
// fresh summary lists topics and topic is not among them.
func (i *interest) wants(peer, topic string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	v, ok := i.views[peer]
	if !ok || v.all || time.Since(v.at) > interestTTL {
		return true
	}
	_, in := v.topics[topic]
	return in
}

func (interestMsg) LinkTag() byte { return tagInterest }

func (m interestMsg) AppendLink(dst []byte) []byte {
	dst = wire.AppendUvarint(dst, m.Epoch)
	dst = wire.AppendUvarint(dst, m.Version)
	dst = wire.AppendBool(dst, m.All)
	dst = wire.AppendUvarint(dst, uint64(len(m.Topics)))
	for _, t := range m.Topics {
		dst = wire.AppendString(dst, t)
	}
	return dst
}

func (m *interestMsg) DecodeLink(r *wire.Reader) {
	m.Epoch = r.Uvarint()
	m.Version = r.Uvarint()
	m.All = r.Bool()
	n := r.Count(maxInterestTopics, 2)
	m.Topics = nil
	if n > 0 {
		m.Topics = make([]string, n)
	}
	for k := range m.Topics {
		m.Topics[k] = r.String(shardgate.MaxKeyBytes)
	}
}
