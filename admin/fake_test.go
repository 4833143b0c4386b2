package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/shardgate/shardgate"
)

// call is one Backend call the fake saw, so tests can assert that a bad
// request never reached the engine and a good one reached it with the
// right arguments.
type call struct {
	Op    string
	Node  string
	Shard int
	To    string
	From  string
	Key   string
	Topic string
	Data  string
	ID    string
	// DryRun and Force of an action.
	DryRun bool
	Force  bool
}

// fakeBackend is an in-memory engine: nodes n1..nN, shards dealt round
// robin, owner i's backup is the next node.
type fakeBackend struct {
	mu       sync.Mutex
	cluster  shardgate.ClusterView
	parts    shardgate.PartitionsView
	calls    []call
	actor    string // of the last action
	err      error  // returned by every call when set
	panicMsg string
	ready    error
	subs     map[int]chan shardgate.Event
	nextSub  int
	tick     int
	log      []shardgate.LogEntry
	logWake  chan struct{}
	refusal  string                      // Act refuses actions that are not forced with this conflict
	moves    []shardgate.OwnershipChange // added to every shard's history
}

// setSize changes what a shard holds, as traffic does, without a new table.
func (f *fakeBackend) setSize(shard int, messages, bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := append([]shardgate.PartitionView(nil), f.parts.Partitions...)
	parts[shard].Messages, parts[shard].Bytes = messages, bytes
	f.parts.Partitions = parts
}

// addMove records a change of a shard's home in its history.
func (f *fakeBackend) addMove(c shardgate.OwnershipChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moves = append(f.moves, c)
}

func (f *fakeBackend) setRefusal(why string) {
	f.mu.Lock()
	f.refusal = why
	f.mu.Unlock()
}

func newFake(p, nodes int) *fakeBackend {
	f := &fakeBackend{subs: map[int]chan shardgate.Event{}}
	f.setTable(1, p, nodes)
	return f
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

// setTable replaces the cluster with nodes n1..nN and a fresh table.
func (f *fakeBackend) setTable(version uint64, p, nodes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cv := shardgate.ClusterView{Version: version, Partitions: p, Backups: 1, Coordinator: "n1", Quorum: true}
	pv := shardgate.PartitionsView{Version: version}
	owned, backed := make([]int, nodes), make([]int, nodes)
	for i := 0; i < p; i++ {
		o, b := i%nodes, (i+1)%nodes
		owned[o]++
		backed[b]++
		st := shardgate.ShardStable
		if i%17 == 5 {
			st = shardgate.ShardMigrating
		}
		pv.Partitions = append(pv.Partitions, shardgate.PartitionView{
			ID: i, Owner: nodeName(o), Backups: []string{nodeName(b)}, State: st, Replicas: 2,
			UnderReplicated: i%31 == 7, Messages: int64(i * 3), Bytes: int64(i * 100),
		})
	}
	for i := 0; i < nodes; i++ {
		cv.Nodes = append(cv.Nodes, shardgate.NodeView{
			Name: nodeName(i), State: shardgate.StateActive, Coordinator: i == 0,
			WSURL: fmt.Sprintf("ws://127.0.0.1:%d/v1/ws", 8080+i), AdminURL: fmt.Sprintf("http://127.0.0.1:%d", 9090+i),
			GossipAddr: fmt.Sprintf("127.0.0.1:%d", 7946+i), Owned: owned[i], BackedUp: backed[i],
			Connections: 100 * (i + 1), MessagesPerSec: 12.5 * float64(i+1), MemoryBytes: uint64(64<<20) * uint64(i+1),
			TableVersion: version,
		})
	}
	f.cluster, f.parts = cv, pv
}

// record notes a call and returns the configured failure, if any.
func (f *fakeBackend) record(c call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.err
}

func (f *fakeBackend) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeBackend) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeBackend) reset() {
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
}

// emit hands ev to every subscriber that has room, like the engine: a full
// subscriber misses it.
func (f *fakeBackend) emit(ev shardgate.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (f *fakeBackend) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeBackend) Cluster(context.Context) (shardgate.ClusterView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cv := f.cluster
	cv.Nodes = append([]shardgate.NodeView(nil), cv.Nodes...)
	// Load that moves a little, so the dashboard's charts have something to
	// draw.
	f.tick++
	for i := range cv.Nodes {
		cv.Nodes[i].Connections += (f.tick * 7 * (i + 1)) % 60
		cv.Nodes[i].MessagesPerSec += float64((f.tick + i) % 6)
	}
	return cv, f.err
}

func (f *fakeBackend) Partitions(context.Context) (shardgate.PartitionsView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pv := f.parts
	pv.Partitions = append([]shardgate.PartitionView(nil), pv.Partitions...)
	return pv, f.err
}

func (f *fakeBackend) Route(_ context.Context, key string) (shardgate.Route, error) {
	if err := f.record(call{Op: "route", Key: key}); err != nil {
		return shardgate.Route{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.parts.Partitions[len(key)%len(f.parts.Partitions)]
	return shardgate.Route{Key: key, Shard: p.ID, Owner: p.Owner, Backups: p.Backups,
		WSURL: "ws://127.0.0.1:8080/v1/ws", Version: f.parts.Version}, nil
}

func (f *fakeBackend) Send(_ context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error) {
	if err := f.record(call{Op: "send", From: from, Key: to, Data: string(data), ID: id}); err != nil {
		return shardgate.SendResult{}, err
	}
	return shardgate.SendResult{To: to, Seq: 42}, nil
}

func (f *fakeBackend) History(_ context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error) {
	if err := f.record(call{Op: "history", Key: key, Data: fmt.Sprintf("since=%d limit=%d", since, limit)}); err != nil {
		return shardgate.HistoryResult{}, err
	}
	return shardgate.HistoryResult{LastSeq: since + 1, Messages: []shardgate.Message{
		{Seq: since + 1, From: "alice", Data: json.RawMessage(`{"hi":1}`), TS: 1700000000000, ID: "m1"},
	}}, nil
}

func (f *fakeBackend) Presence(_ context.Context, keys []string) (map[string]shardgate.Presence, error) {
	if err := f.record(call{Op: "presence", Key: fmt.Sprint(keys)}); err != nil {
		return nil, err
	}
	return map[string]shardgate.Presence{"bob": {Online: true, Connections: 2}}, nil
}

func (f *fakeBackend) Publish(_ context.Context, from, topic string, data json.RawMessage) (int, error) {
	if err := f.record(call{Op: "publish", From: from, Topic: topic, Data: string(data)}); err != nil {
		return 0, err
	}
	return 3, nil
}

func (f *fakeBackend) report(action string) shardgate.MoveReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return shardgate.MoveReport{Action: action, Version: f.parts.Version + 1,
		Moves: []shardgate.Move{{Shard: 1, From: "n2", To: "n1", Role: "owner"}, {Shard: 1, From: "n3", To: "n2", Role: "backup"}}}
}

func (f *fakeBackend) Act(_ context.Context, a shardgate.Action) (shardgate.MoveReport, error) {
	c := call{Op: a.Kind, Node: a.Node, DryRun: a.DryRun, Force: a.Force}
	if a.Kind == shardgate.ActionMove {
		c = call{Op: a.Kind, Shard: a.Shard, To: a.Node, DryRun: a.DryRun, Force: a.Force}
	}
	if err := f.record(c); err != nil {
		return shardgate.MoveReport{}, err
	}
	f.mu.Lock()
	f.actor = a.Actor
	refusal := f.refusal
	f.mu.Unlock()
	if refusal != "" && !a.Force {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindConflict, "%s", refusal)
	}
	r := f.report(a.Kind)
	r.Node, r.DryRun = a.Node, a.DryRun
	if a.DryRun {
		r.Summary = "1 shard changes home, 1 copy to make, 100 B to copy, about 250ms"
	}
	return r, nil
}

// EventLog serves the entries set with appendLog.
func (f *fakeBackend) EventLog(_ context.Context, since uint64, limit int) ([]shardgate.LogEntry, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []shardgate.LogEntry
	for _, e := range f.log {
		if e.Seq > since && (limit <= 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	var last uint64
	if len(f.log) > 0 {
		last = f.log[len(f.log)-1].Seq
	}
	return out, last, f.err
}

func (f *fakeBackend) LogChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logWake == nil {
		f.logWake = make(chan struct{})
	}
	return f.logWake
}

// appendLog adds an entry numbered after the last and wakes streams.
func (f *fakeBackend) appendLog(e shardgate.LogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Seq = uint64(len(f.log) + 1)
	f.log = append(f.log, e)
	if f.logWake != nil {
		close(f.logWake)
	}
	f.logWake = make(chan struct{})
}

func (f *fakeBackend) ShardHistory(_ context.Context, shard int) ([]shardgate.OwnershipChange, error) {
	if err := f.record(call{Op: "shard_history", Shard: shard}); err != nil {
		return nil, err
	}
	out := []shardgate.OwnershipChange{
		{Shard: shard, Version: 1, At: 1700000000000, From: "", To: "n1", Backups: []string{"n2"}, Reason: "initial table"},
		{Shard: shard, Version: 4, At: 1700000300000, From: "n1", To: "n3", Reason: "rebalance after n3 joined"},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.moves {
		if c.Shard == shard {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeBackend) Subscribe() (<-chan shardgate.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextSub
	f.nextSub++
	ch := make(chan shardgate.Event, 64)
	f.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

func (f *fakeBackend) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

var _ Backend = (*fakeBackend)(nil)
