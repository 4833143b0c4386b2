package conn

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
)

// fakeBackend is an in-memory engine: one inbox per key, cursors,
// idempotency records and attach counts. Sends deliver to the Server at
// once unless manualDelivery is set, so tests can inject their own
// duplicates, gaps and reordering.
type fakeBackend struct {
	mu             sync.Mutex
	srv            *Server
	inbox          map[string][]shardgate.Message
	cursors        map[string]uint64
	idem           map[string]shardgate.SendResult
	attached       map[string]int
	interest       map[string]bool
	errs           map[string]error // method name → error it returns
	historyDelay   time.Duration
	historyCalls   int
	manualDelivery bool
	floor          map[string]uint64 // retention removed every seq up to this
	// sendGate, when set, holds every Send until it is closed (or the
	// call's ctx ends); sendsHeld counts the Sends waiting on it.
	sendGate  chan struct{}
	sendsHeld int
}

// holdSends makes Send wait until the returned release is called (it is
// also called at the end of the test).
func (f *fakeBackend) holdSends(t testing.TB) (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.sendGate = gate
	f.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

func (f *fakeBackend) held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sendsHeld
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		inbox:    map[string][]shardgate.Message{},
		cursors:  map[string]uint64{},
		idem:     map[string]shardgate.SendResult{},
		attached: map[string]int{},
		interest: map[string]bool{},
		errs:     map[string]error{},
		floor:    map[string]uint64{},
	}
}

func (f *fakeBackend) fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = err
}

// store appends a message to key's inbox without delivering it. A nil
// data becomes {"n": seq}.
func (f *fakeBackend) store(key, from string, data json.RawMessage, id string) shardgate.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := uint64(len(f.inbox[key]) + 1)
	if data == nil {
		data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, seq))
	}
	m := shardgate.Message{Seq: seq, From: from, Data: data, TS: time.Now().UnixMilli(), ID: id}
	f.inbox[key] = append(f.inbox[key], m)
	return m
}

// storeN appends n numbered messages to key's inbox.
func (f *fakeBackend) storeN(key string, n int) []shardgate.Message {
	var out []shardgate.Message
	for range n {
		out = append(out, f.store(key, "system", nil, ""))
	}
	return out
}

func (f *fakeBackend) Send(ctx context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error) {
	f.mu.Lock()
	if gate := f.sendGate; gate != nil {
		f.sendsHeld++
		f.mu.Unlock()
		select {
		case <-gate:
		case <-ctx.Done():
		}
		f.mu.Lock()
		f.sendsHeld--
		if ctx.Err() != nil {
			f.mu.Unlock()
			return shardgate.SendResult{}, ctx.Err()
		}
	}
	if err := f.errs["send"]; err != nil {
		f.mu.Unlock()
		return shardgate.SendResult{}, err
	}
	if r, ok := f.idem[from+"\x00"+id]; ok && id != "" {
		f.mu.Unlock()
		return r, nil
	}
	f.mu.Unlock()
	m := f.store(to, from, data, id)
	r := shardgate.SendResult{To: to, Seq: m.Seq}
	f.mu.Lock()
	if id != "" {
		f.idem[from+"\x00"+id] = r
	}
	manual := f.manualDelivery
	f.mu.Unlock()
	if !manual {
		f.srv.Deliver(to, []shardgate.Message{m})
	}
	return r, nil
}

func (f *fakeBackend) History(ctx context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error) {
	f.mu.Lock()
	delay, err := f.historyDelay, f.errs["history"]
	f.historyCalls++
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return shardgate.HistoryResult{}, ctx.Err()
		}
	}
	if err != nil {
		return shardgate.HistoryResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.inbox[key]
	res := shardgate.HistoryResult{LastSeq: uint64(len(all)), FirstSeq: f.floor[key] + 1}
	for _, m := range all {
		if m.Seq > since && m.Seq >= res.FirstSeq && len(res.Messages) < limit {
			res.Messages = append(res.Messages, m)
		}
	}
	return res, nil
}

func (f *fakeBackend) Ack(ctx context.Context, key string, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursors[key] = seq
	return f.errs["ack"]
}

func (f *fakeBackend) Cursor(ctx context.Context, key string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursors[key], f.errs["cursor"]
}

func (f *fakeBackend) Presence(ctx context.Context, keys []string) (map[string]shardgate.Presence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]shardgate.Presence{}
	for _, k := range keys {
		out[k] = shardgate.Presence{Online: f.attached[k] > 0, Connections: f.attached[k]}
	}
	return out, f.errs["presence"]
}

func (f *fakeBackend) Publish(ctx context.Context, from, topic string, data json.RawMessage) (int, error) {
	if err := f.err("publish"); err != nil {
		return 0, err
	}
	f.srv.DeliverPublication(shardgate.Publication{Topic: topic, From: from, Data: data, TS: time.Now().UnixMilli()})
	return 1, nil
}

func (f *fakeBackend) Attach(ctx context.Context, key string) (shardgate.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["attach"]; err != nil {
		return shardgate.Attachment{}, err
	}
	f.attached[key]++
	return shardgate.Attachment{Node: "n1", Shard: 7, LastSeq: uint64(len(f.inbox[key])), FirstSeq: f.floor[key] + 1}, nil
}

func (f *fakeBackend) Detach(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attached[key]--
}

func (f *fakeBackend) TopicInterest(topic string, interested bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.interest[topic] = interested
}

func (f *fakeBackend) err(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs[method]
}

func (f *fakeBackend) attachedCount(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attached[key]
}

func (f *fakeBackend) interested(topic string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.interest[topic]
}
