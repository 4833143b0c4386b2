package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link"
	"github.com/shardgate/shardgate/link/wire"
)

// callTimeout applies to a Call whose ctx has no deadline, as link's
// default CallTimeout does.
const callTimeout = 5 * time.Second

// Network carries node-link calls between engines of one process. Requests
// and answers go through the same encoding as the real links (binary forms
// where a type has one, else JSON), so every type the engine sends must
// round-trip. Rules drop traffic per direction:
// a dropped request or answer is never seen, and the caller waits until its
// deadline, as it would for a peer behind a black hole. A node that is not
// attached refuses at once, as a closed port does. Safe for concurrent use.
type Network struct {
	log *slog.Logger

	mu    sync.Mutex
	ends  map[string]*endpoint // attached nodes, by name
	drop  map[[2]string]bool   // from → to: frames dropped
	rules []DropRule
	deny  []DropRule        // requests refused at once
	calls map[[3]string]int // from, to, method → requests that arrived
}

// NewNetwork returns an empty network; log may be nil.
func NewNetwork(log *slog.Logger) *Network {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Network{log: log, ends: map[string]*endpoint{}, drop: map[[2]string]bool{}, calls: map[[3]string]int{}}
}

// Attach makes name reachable and serves its requests with h. It returns
// the node's side of the links, to hand to node.New. Attach a name again
// only after Detach.
func (nw *Network) Attach(name string, h link.Handler) *Links {
	ctx, cancel := context.WithCancel(context.Background())
	e := &endpoint{name: name, h: h, ctx: ctx, cancel: cancel, notes: map[string]*noteQueue{}}
	nw.mu.Lock()
	nw.ends[name] = e
	nw.mu.Unlock()
	return &Links{nw: nw, name: name, peers: map[string]string{}}
}

// Detach makes name unreachable: calls to it fail at once, its handlers in
// progress see their context cancelled, and Detach waits for them.
func (nw *Network) Detach(name string) {
	nw.mu.Lock()
	e := nw.ends[name]
	delete(nw.ends, name)
	nw.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

// CutOneWay drops every frame from → to (requests and answers alike).
func (nw *Network) CutOneWay(from, to string) {
	nw.mu.Lock()
	nw.drop[[2]string{from, to}] = true
	nw.mu.Unlock()
}

// Cut drops every frame between a and b, both ways.
func (nw *Network) Cut(a, b string) {
	nw.CutOneWay(a, b)
	nw.CutOneWay(b, a)
}

// HealOneWay undoes CutOneWay.
func (nw *Network) HealOneWay(from, to string) {
	nw.mu.Lock()
	delete(nw.drop, [2]string{from, to})
	nw.mu.Unlock()
}

// DropRule says whether a frame of method from → to is dropped: a
// request, its answer (from the callee back to the caller) or a
// notification. It is called with the network's lock held and must not
// call the Network.
type DropRule func(from, to, method string) bool

// DropIf adds a rule; Heal removes it.
func (nw *Network) DropIf(rule DropRule) {
	nw.mu.Lock()
	nw.rules = append(nw.rules, rule)
	nw.mu.Unlock()
}

// RefuseIf adds a rule whose requests and notifications fail at once
// with KindUnavailable, as a dial to a port nobody listens on does, where
// a dropped one waits for its deadline. Nothing then waits for time to
// pass, so a test can cut links this way inside a synctest bubble. Heal
// removes it.
func (nw *Network) RefuseIf(rule DropRule) {
	nw.mu.Lock()
	nw.deny = append(nw.deny, rule)
	nw.mu.Unlock()
}

// Refuse makes every request between a and b, both ways, fail at once.
func (nw *Network) Refuse(a, b string) {
	nw.RefuseIf(func(from, to, _ string) bool { return (from == a && to == b) || (from == b && to == a) })
}

// Heal removes every rule.
func (nw *Network) Heal() {
	nw.mu.Lock()
	clear(nw.drop)
	nw.rules, nw.deny = nil, nil
	nw.mu.Unlock()
}

// Calls counts the requests and notifications of method that reached to
// from from.
func (nw *Network) Calls(from, to, method string) int {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.calls[[3]string{from, to, method}]
}

func (nw *Network) dropped(from, to, method string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.droppedLocked(from, to, method)
}

func (nw *Network) droppedLocked(from, to, method string) bool {
	if nw.drop[[2]string{from, to}] {
		return true
	}
	for _, r := range nw.rules {
		if r(from, to, method) {
			return true
		}
	}
	return false
}

// arrive returns the endpoint a frame from → to reaches, nil when it is
// dropped, or an error when to is not attached.
func (nw *Network) arrive(from, to, method string) (*endpoint, error) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	e := nw.ends[to]
	refused := e == nil
	for _, r := range nw.deny {
		refused = refused || r(from, to, method)
	}
	if refused {
		return nil, shardgate.Errorf(shardgate.KindUnavailable, "%s is not reachable: connection refused", to)
	}
	if nw.droppedLocked(from, to, method) {
		return nil, nil
	}
	nw.calls[[3]string{from, to, method}]++
	return e, nil
}

// endpoint is one attached node: the handler, and the goroutines running
// it, which Detach waits for.
type endpoint struct {
	name   string
	h      link.Handler
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	notes  map[string]*noteQueue // by sender: notifications run in order
}

// run starts f on a goroutine Detach waits for; false when detached.
func (e *endpoint) run(f func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Go(f)
	return true
}

// invoke runs the handler as link does: a panic becomes an internal error.
func (e *endpoint) invoke(from, method string, body json.RawMessage) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = shardgate.Errorf(shardgate.KindInternal, "handler for %s on %s panicked: %v", method, e.name, p)
		}
	}()
	return e.h.HandleLink(e.ctx, from, method, body)
}

// noteQueue holds one sender's notifications; one goroutine at a time
// runs them, in the order they were sent, as a link connection does.
type noteQueue struct {
	pending []note
	running bool
}

type note struct {
	method string
	body   json.RawMessage
}

func (e *endpoint) notify(nw *Network, from, method string, body json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	q := e.notes[from]
	if q == nil {
		q = &noteQueue{}
		e.notes[from] = q
	}
	q.pending = append(q.pending, note{method, body})
	if q.running {
		return
	}
	q.running = true
	e.wg.Go(func() {
		for {
			e.mu.Lock()
			batch := q.pending
			q.pending = nil
			if len(batch) == 0 || e.closed {
				q.running = false
				e.mu.Unlock()
				return
			}
			e.mu.Unlock()
			for _, n := range batch {
				if e.ctx.Err() != nil {
					break
				}
				if _, err := e.invoke(from, n.method, n.body); err != nil {
					nw.log.Debug("nodetest: notification failed", "from", from, "to", e.name, "method", n.method, "err", err)
				}
			}
		}
	})
}

// Links is one node's side of the network; it implements node.Links.
type Links struct {
	nw   *Network
	name string

	mu     sync.Mutex
	peers  map[string]string
	closed bool
}

// SetPeer records a peer's address. Calls go to peers set here only, as
// with the real links.
func (l *Links) SetPeer(name, addr string) {
	l.mu.Lock()
	l.peers[name] = addr
	l.mu.Unlock()
}

// RemovePeer forgets a peer.
func (l *Links) RemovePeer(name string) {
	l.mu.Lock()
	delete(l.peers, name)
	l.mu.Unlock()
}

// QueueDepths reports every peer set with SetPeer at 0: the kit hands
// requests to their peer at once and keeps no send queue to count.
func (l *Links) QueueDepths() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.peers))
	for name := range l.peers {
		out[name] = 0
	}
	return out
}

// Close fails every later call from this node, as a closed link.Mesh does.
func (l *Links) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

func (l *Links) usable(peer string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return shardgate.Errorf(shardgate.KindUnavailable, "%w", link.ErrClosed)
	case l.peers[peer] == "":
		return shardgate.Errorf(shardgate.KindUnavailable, "no address known for peer %s", peer)
	}
	return nil
}

// Call sends a request to peer and waits for its answer, decoding the
// result into resp unless resp is nil. Errors are the peer's, with their
// kind and message, or KindUnavailable when no answer came.
func (l *Links) Call(ctx context.Context, peer, method string, req, resp any) error {
	if err := l.call(ctx, peer, method, req, resp); err != nil {
		return fmt.Errorf("nodetest: call %s on %s: %w", method, peer, err)
	}
	return nil
}

type answer struct {
	result json.RawMessage
	err    error
	lost   bool // the network dropped it: the caller waits in vain
}

func (l *Links) call(ctx context.Context, peer, method string, req, resp any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	body, err := link.EncodeRequest(method, req)
	if err != nil {
		return err
	}
	if err := l.usable(peer); err != nil {
		return err
	}
	e, err := l.nw.arrive(l.name, peer, method)
	if err != nil {
		return err
	}
	ch := make(chan answer, 1)
	if e != nil && !e.run(func() { ch <- l.serve(e, peer, method, body) }) {
		return shardgate.Errorf(shardgate.KindUnavailable, "%s is not reachable: connection refused", peer)
	}
	if e == nil {
		ch = nil // the request was dropped: no answer comes
	}
	select {
	case a := <-ch:
		if !a.lost {
			return a.into(resp)
		}
		<-ctx.Done()
	case <-ctx.Done():
	}
	return shardgate.Errorf(shardgate.KindUnavailable, "no answer: %w", ctx.Err())
}

// into hands an answer to its caller: the remote error, or the result
// decoded into resp unless resp is nil.
func (a answer) into(resp any) error {
	switch {
	case a.err != nil:
		return a.err
	case resp == nil:
		return nil
	}
	if err := wire.Decode(a.result, resp); err != nil {
		return shardgate.Errorf(shardgate.KindInternal, "decode result: %w", err)
	}
	return nil
}

// serve runs one request on e and encodes its answer as the link would;
// an answer the network drops never arrives.
func (l *Links) serve(e *endpoint, peer, method string, body json.RawMessage) answer {
	res, err := e.invoke(l.name, method, body)
	var a answer
	if err == nil {
		a.result, err = link.EncodeRequest(method, res) // a result is encoded as a body is
	}
	if err != nil {
		a = answer{err: link.AsRemote(err)}
	}
	a.lost = l.nw.dropped(peer, l.name, method)
	return a
}

// Notify queues a one-way message to peer. Notifications from one node to
// one peer run in the order they were sent; a dropped one is lost
// silently, as on the real links.
func (l *Links) Notify(_ context.Context, peer, method string, req any) error {
	body, err := link.EncodeRequest(method, req)
	if err == nil {
		err = l.usable(peer)
	}
	var e *endpoint
	if err == nil {
		e, err = l.nw.arrive(l.name, peer, method)
	}
	if err != nil {
		return fmt.Errorf("nodetest: notify %s on %s: %w", method, peer, err)
	}
	if e != nil {
		e.notify(l.nw, l.name, method, body)
	}
	return nil
}
