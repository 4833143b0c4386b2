package conn

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// TestQueuedNotificationsShareAFrame: messages queued together leave as
// one JSON-RPC batch frame, in seq order, unless batching is off.
func TestQueuedNotificationsShareAFrame(t *testing.T) {
	tests := []struct {
		name      string
		maxBytes  int
		wantSizes []int // notifications per frame
	}{
		{"batched", 0, []int{5}},
		{"off", 1, []int{1, 1, 1, 1, 1}},
		{"split by size", 300, []int{2, 2, 1}}, // each message frame is ~100 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config, _ *AuthConfig) { c.MaxBatchBytes = tt.maxBytes })
			h.be.manualDelivery = true
			ws, welcome := h.raw(t, "bob")
			if welcome["method"] != "welcome" {
				t.Fatalf("first frame %v, want the welcome alone", welcome)
			}
			msgs := h.be.storeN("bob", 5)
			// One Deliver queues all five under the connection's lock, so
			// the writer finds them queued together.
			h.srv.Deliver("bob", msgs)
			var sizes []int
			var seqs []uint64
			for len(seqs) < 5 {
				notes := readNotes(t, ws)
				sizes = append(sizes, len(notes))
				for _, n := range notes {
					var m shardgate.Message
					if n.Method != "message" || json.Unmarshal(n.Params, &m) != nil {
						t.Fatalf("batchedNote %s %s, want a message", n.Method, n.Params)
					}
					seqs = append(seqs, m.Seq)
				}
			}
			if want := []uint64{1, 2, 3, 4, 5}; !slices.Equal(seqs, want) {
				t.Errorf("seqs %v, want %v", seqs, want)
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("notifications per frame %v, want %v", sizes, tt.wantSizes)
			}
			// Counted once written: the client may read a frame before
			// the writer has counted it.
			testutil.Eventually(t, 5*time.Second, "every batched note and the welcome counted in shardgate_messages_out_total", func() bool {
				return counter(h.m, "shardgate_messages_out_total", "") >= 6
			})
		})
	}
}

type batchedNote struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     json.RawMessage `json:"id"` // set on a response
}

// readNotes reads one frame, a single batchedNote or a batch.
func readNotes(t *testing.T, ws *websocket.Conn) []batchedNote {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if strings.HasPrefix(string(data), "[") {
		var batch []batchedNote
		if err := json.Unmarshal(data, &batch); err != nil {
			t.Fatalf("batch %s: %v", data, err)
		}
		return batch
	}
	var n batchedNote
	if err := json.Unmarshal(data, &n); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return []batchedNote{n}
}

func TestNoticeRun(t *testing.T) {
	n := func(size int) frame { return frame{kind: frameNotice, data: make([]byte, size)} }
	p := func(size int) frame { return frame{kind: framePrepared, data: make([]byte, size)} }
	resp := frame{kind: frameText, data: []byte("{}")}
	tests := []struct {
		name    string
		batch   []frame
		i, max  int
		wantEnd int
	}{
		{"a response stands alone", []frame{resp, n(10)}, 0, 100, 1},
		{"notices and publications join", []frame{n(10), p(10), n(10)}, 0, 100, 3},
		{"a response ends the run", []frame{n(10), n(10), resp, n(10)}, 0, 100, 2},
		{"the size bound ends the run", []frame{n(10), n(10), n(10)}, 0, 2 + 10 + 1 + 10, 2},
		{"an oversized notice goes alone", []frame{n(500), n(10)}, 0, 100, 1},
		{"from the middle", []frame{resp, n(10), n(10)}, 1, 100, 3},
		{"a ping is no notice", []frame{n(10), {kind: framePing}}, 0, 100, 1},
	}
	for _, tt := range tests {
		if got := noticeRun(tt.batch, tt.i, tt.max); got != tt.wantEnd {
			t.Errorf("%s: end %d, want %d", tt.name, got, tt.wantEnd)
		}
	}
}

// lingering reports whether key's one connection has a writer waiting out
// its WriteDelay.
func lingering(h *harness, key string) bool {
	cs := h.srv.connsOf(key)
	if len(cs) != 1 {
		return false
	}
	cs[0].mu.Lock()
	defer cs[0].mu.Unlock()
	return cs[0].hurry != nil
}

// TestWriteDelayGathersDeliveries: with a write delay, deliveries that
// arrive while the writer waits leave in one frame with the first; a
// response to the client's own request is not held by the delay, and takes
// the waiting deliveries with it; nor is a close frame.
func TestWriteDelayGathersDeliveries(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.WriteDelay = MaxWriteDelay })
	h.be.manualDelivery = true
	ws, _ := h.raw(t, "bob")
	msgs := h.be.storeN("bob", 5)
	h.srv.Deliver("bob", msgs[:1])
	// A writer that does not wait has written the first alone by now.
	testutil.Eventually(t, 5*time.Second, "the writer to wait for more", func() bool { return lingering(h, "bob") })
	for _, m := range msgs[1:] {
		h.srv.Deliver("bob", []shardgate.Message{m})
	}
	if notes := readNotes(t, ws); len(notes) != 5 {
		t.Fatalf("first frame holds %d deliveries, want all 5", len(notes))
	}

	// A held answer or close would wait out the whole second.
	h.srv.Deliver("bob", h.be.storeN("bob", 1))
	testutil.Eventually(t, 5*time.Second, "the writer to wait again", func() bool { return lingering(h, "bob") })
	start := time.Now()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":7,"method":"presence","params":{"keys":["bob"]}}`)); err != nil {
		t.Fatal(err)
	}
	var sawMessage, sawAnswer bool
	for !sawAnswer {
		for _, n := range readNotes(t, ws) {
			sawMessage = sawMessage || n.Method == "message"
			sawAnswer = sawAnswer || (n.Method == "" && string(n.ID) == "7")
		}
	}
	if el := time.Since(start); el > MaxWriteDelay*4/5 || !sawMessage {
		t.Errorf("answer after %v (delivery seen before it: %v), want it at once and the delivery with it", el, sawMessage)
	}

	h.srv.Deliver("bob", h.be.storeN("bob", 1))
	testutil.Eventually(t, 5*time.Second, "the writer to wait once more", func() bool { return lingering(h, "bob") })
	start = time.Now()
	h.srv.connsOf("bob")[0].closeWith(closePolicy, "test", true)
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != closePolicy {
				t.Fatalf("read: %v, want close 4008", err)
			}
			break
		}
	}
	if el := time.Since(start); el > MaxWriteDelay*4/5 {
		t.Errorf("close frame after %v, want it at once", el)
	}
}

// TestWriteDelayEndsBeforeTheQueueFills: deliveries that pile up during
// the wait end it once they take a quarter of the send queue, long before
// they could fill it: a client that reads is never closed as a slow
// consumer because of the delay.
func TestWriteDelayEndsBeforeTheQueueFills(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.WriteDelay = MaxWriteDelay; c.SendQueue = 16; c.HistoryPage = 8 })
	h.be.manualDelivery = true
	ws, _ := h.raw(t, "bob")
	msgs := h.be.storeN("bob", 12)
	h.srv.Deliver("bob", msgs[:1])
	testutil.Eventually(t, 5*time.Second, "the writer to wait for more", func() bool { return lingering(h, "bob") })
	start := time.Now()
	for _, m := range msgs[1:] {
		h.srv.Deliver("bob", []shardgate.Message{m})
	}
	got := len(readNotes(t, ws))
	if el := time.Since(start); el > MaxWriteDelay*4/5 {
		t.Errorf("first frame after %v: 12 queued deliveries waited out the delay", el)
	}
	for got < len(msgs) {
		got += len(readNotes(t, ws))
	}
	if n := counter(h.m, "shardgate_slow_consumer_disconnects_total", ""); n != 0 {
		t.Fatalf("%v slow-consumer closes of a client that reads", n)
	}
}
