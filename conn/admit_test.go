package conn

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/internal/inflight"
	"github.com/shardgate/shardgate/internal/testutil"
)

func sendFrame(id int, to string) []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":%q,"data":%d}}`, id, to, id)
}

func errMessage(resp map[string]any) string {
	e, _ := resp["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// A connection may have MaxInFlight requests read and unanswered; the
// excess is answered 1002 at once, with its id, while the admitted ones
// wait; they are then answered in order and the room comes back.
func TestConnInFlightBound(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.MaxInFlight = 3 })
	release := h.be.holdSends(t)
	ws, _ := h.raw(t, "alice")
	for id := 1; id <= 5; id++ {
		if err := ws.WriteMessage(websocket.TextMessage, sendFrame(id, "bob")); err != nil {
			t.Fatal(err)
		}
	}
	// The engine holds the first send: only the refusals can come now.
	for _, want := range []float64{4, 5} {
		resp := readFrame(t, ws)
		if errCode(resp) != 1002 || resp["id"] != want || !strings.Contains(errMessage(resp), "this connection has 3 requests") {
			t.Fatalf("request %v over the bound of 3: got %v", want, resp)
		}
	}
	if got := counter(h.m, "shardgate_requests_shed_total", "connection"); got != 2 {
		t.Fatalf("shardgate_requests_shed_total{bound=connection} = %v, want 2", got)
	}
	testutil.Eventually(t, 5*time.Second, "the first send to reach the engine", func() bool { return h.be.held() > 0 })
	if n := h.be.held(); n != 1 {
		t.Fatalf("%d sends reached the engine at once, want 1: requests of a connection run one at a time", n)
	}
	release()
	for i, want := range []float64{1, 2, 3} {
		resp := readFrame(t, ws)
		res, _ := resp["result"].(map[string]any)
		if resp["id"] != want || res == nil || res["seq"] != float64(i+1) {
			t.Fatalf("answer %d: got %v, want id %v with seq %d", i, resp, want, i+1)
		}
	}
	if resp := rpc(t, ws, string(sendFrame(6, "bob"))); errCode(resp) != 0 {
		t.Fatalf("a send once the answers are in: %v", resp)
	}
}

// The byte bound refuses a request that would take the connection's
// unanswered frames over MaxInFlightBytes.
func TestConnInFlightByteBound(t *testing.T) {
	frame := sendFrame(1, "bob")
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.MaxInFlightBytes = int64(2*len(frame) + 1) })
	h.be.holdSends(t)
	ws, _ := h.raw(t, "alice")
	for id := 1; id <= 3; id++ {
		if err := ws.WriteMessage(websocket.TextMessage, sendFrame(id, "bob")); err != nil {
			t.Fatal(err)
		}
	}
	if resp := readFrame(t, ws); errCode(resp) != 1002 || resp["id"] != float64(3) {
		t.Fatalf("third frame over the byte bound: %v", resp)
	}
}

// The node's bound is shared by every connection (and, in a node, the HTTP
// send API): once it is full a send on any connection is refused at once,
// while requests other than sends go on.
func TestNodeSendsBound(t *testing.T) {
	node := inflight.New(2, 0)
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.NodeSends = node })
	release := h.be.holdSends(t)
	alice, _ := h.raw(t, "alice")
	carol, _ := h.raw(t, "carol")
	for id := 1; id <= 2; id++ {
		if err := alice.WriteMessage(websocket.TextMessage, sendFrame(id, "bob")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "alice's two sends to be admitted", func() bool { n, _ := node.InFlight(); return n == 2 })
	resp := rpc(t, carol, string(sendFrame(7, "bob")))
	if errCode(resp) != 1002 || resp["id"] != float64(7) || !strings.Contains(errMessage(resp), "node n1 has 2 sends") {
		t.Fatalf("carol's send over the node bound: %v", resp)
	}
	if resp := rpc(t, carol, `{"jsonrpc":"2.0","id":8,"method":"history","params":{"since":0}}`); errCode(resp) != 0 {
		t.Fatalf("history while sends are at the node bound: %v", resp)
	}
	if got := counter(h.m, "shardgate_requests_shed_total", "node"); got != 1 {
		t.Fatalf("shardgate_requests_shed_total{bound=node} = %v, want 1", got)
	}
	release()
	for range 2 {
		if resp := readFrame(t, alice); errCode(resp) != 0 {
			t.Fatalf("alice's admitted send: %v", resp)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the node bound to be given back", func() bool { n, b := node.InFlight(); return n == 0 && b == 0 })
	if resp := rpc(t, carol, string(sendFrame(9, "bob"))); errCode(resp) != 0 {
		t.Fatalf("carol's send once there is room: %v", resp)
	}
}

// Requests still queued when a connection closes are dropped and give their
// room back to the node.
func TestQueuedRequestsReleasedOnClose(t *testing.T) {
	node := inflight.New(100, 0)
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.NodeSends = node })
	release := h.be.holdSends(t)
	ws, _ := h.raw(t, "alice")
	for id := 1; id <= 4; id++ {
		if err := ws.WriteMessage(websocket.TextMessage, sendFrame(id, "bob")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "four sends admitted", func() bool { n, _ := node.InFlight(); return n == 4 })
	ws.Close()
	testutil.Eventually(t, 5*time.Second, "the connection to end", func() bool { return len(h.srv.connsOf("alice")) == 0 })
	release()
	testutil.Eventually(t, 5*time.Second, "the node bound to be given back", func() bool { n, b := node.InFlight(); return n == 0 && b == 0 })
	h.be.mu.Lock()
	stored := len(h.be.inbox["bob"])
	h.be.mu.Unlock()
	if stored > 1 {
		t.Fatalf("%d sends stored after the connection closed; only the one already running may be", stored)
	}
}

// A client that pipelines requests faster than its answers can be written
// is slowed by its own reading, not closed: the reader takes no new frame
// while half the send queue is taken, so answers to its own requests can
// never overflow the queue (4009 is for clients that do not read).
func TestPipelinedRequestsAreAllAnswered(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.SendQueue = 16; c.HistoryPage = 8 })
	ws, _ := h.raw(t, "alice")
	const n = 400
	written := make(chan error, 1)
	go func() {
		for id := 1; id <= n; id++ {
			if err := ws.WriteMessage(websocket.TextMessage, sendFrame(id, "bob")); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	answered := map[float64]bool{}
	for len(answered) < n {
		resp := readFrame(t, ws)
		id, ok := resp["id"].(float64)
		if !ok || answered[id] {
			t.Fatalf("after %d answers: %v", len(answered), resp)
		}
		answered[id] = true
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if got := counter(h.m, "shardgate_slow_consumer_disconnects_total", ""); got != 0 {
		t.Fatalf("%v slow-consumer closes", got)
	}
}

// The smallest send queue still answers requests one after another: the
// reader's wait for room counts answers and unanswered requests, and a
// connection with neither never waits.
func TestTinySendQueueAnswers(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.SendQueue = 2; c.HistoryPage = 1 })
	ws, _ := h.raw(t, "alice")
	for id := 1; id <= 3; id++ {
		resp := rpc(t, ws, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"presence","params":{"keys":["bob"]}}`, id))
		if resp["id"] != float64(id) || errCode(resp) != 0 {
			t.Fatalf("request %d: %v", id, resp)
		}
	}
}

// Deliveries waiting to be written never hold a request back: only answers
// and unanswered requests fill the reader's half of the queue.
func TestAnswersFullCountsOnlyAnswers(t *testing.T) {
	notice := frame{kind: frameNotice, data: []byte(`{}`)}
	tests := []struct {
		name       string
		queue      []frame
		answers    int
		unanswered int64
		full       bool
	}{
		{"idle", nil, 0, 0, false},
		{"a backlog of deliveries", slices.Repeat([]frame{notice}, 12), 0, 0, false},
		{"answers below half", nil, 7, 0, false},
		{"answers at half", nil, 8, 0, true},
		{"answers and requests at half", nil, 5, 3, true},
	}
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.SendQueue = 16; c.HistoryPage = 8 })
	for _, tt := range tests {
		c := &conn{s: h.srv, queue: tt.queue, answers: tt.answers, reqs: inflight.New(100, 0)}
		for range tt.unanswered {
			c.reqs.Acquire(1)
		}
		if got := c.answersFullLocked(); got != tt.full {
			t.Errorf("%s: full = %v, want %v", tt.name, got, tt.full)
		}
	}
}
