package conn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// storeLarge fills key's inbox with n messages of size bytes each, so that
// one history answer is about n*size bytes.
func storeLarge(h *harness, key string, n, size int) {
	data := json.RawMessage(`"` + strings.Repeat("x", size) + `"`)
	for range n {
		h.be.store(key, "system", data, "")
	}
}

// historyCallsSettled waits until the backend has served no new history
// call for half a second and returns how many it served.
func historyCallsSettled(h *harness) int {
	prev := -1
	for range 40 {
		h.be.mu.Lock()
		n := h.be.historyCalls
		h.be.mu.Unlock()
		if n == prev {
			return n
		}
		prev = n
		time.Sleep(500 * time.Millisecond)
	}
	return prev
}

// A client that asks for history again and again and never reads must not
// make the node hold every answer: each is up to a store page (2 MiB), and
// the frame-count pacing alone let 512 of them wait, a gigabyte per
// connection. Once the answers queued for the client reach
// AnswerQueueBytes, its next request waits until it reads.
func TestUnreadAnswersAreBoundedInBytes(t *testing.T) {
	const budget = 1 << 20
	h := newHarness(t, func(c *Config, _ *AuthConfig) {
		c.AnswerQueueBytes = budget
		c.MaxInFlight = 64
		c.MaxInFlightBytes = 1 << 20
	})
	storeLarge(h, "alice", 32, 64<<10) // one answer: about 2 MiB
	ws, _ := h.raw(t, "alice", "?since=now")
	const asked = 60
	for i := range asked {
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"history","params":{"since":0}}`, i+1)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	served := historyCallsSettled(h)
	// What the two sockets' kernel buffers take in (a few MiB on
	// loopback) lets a few answers leave; without the bound every one of
	// the 60 was read from the store and queued, 120 MiB.
	if served > 12 {
		t.Errorf("the backend served %d of %d history requests for a client that reads nothing, want the handler held after the answers reached %d bytes", served, asked, budget)
	}
	if held := h.srv.answerBytes.Load(); held > budget+3<<20 {
		t.Errorf("%d bytes of answers queued, want at most the budget and one answer", held)
	}
	// Reading lets every request through, in order.
	got := 0
	for got < asked {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d answers: %v", got, err)
		}
		var resp struct {
			ID     int `json:"id"`
			Result struct {
				Messages []json.RawMessage `json:"messages"`
			} `json:"result"`
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			t.Fatalf("answer %d: %v", got+1, err)
		}
		if resp.ID != got+1 || len(resp.Result.Messages) != 32 {
			t.Fatalf("answer %d: id %d with %d messages, want id %d with 32", got+1, resp.ID, len(resp.Result.Messages), got+1)
		}
		got++
	}
}

// The node's bound on unread answers, summed over its connections: while
// one client holds it, another's history request is answered 1002, and
// the room comes back when that client goes.
func TestNodeAnswerBoundRefusesHistory(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) {
		c.AnswerQueueBytes = 64 << 20
		c.NodeAnswerQueueBytes = 8 << 20
	})
	storeLarge(h, "hog", 32, 64<<10)
	hog, _ := h.raw(t, "hog", "?since=now")
	for i := range 30 {
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"history","params":{"since":0}}`, i+1)
		if err := hog.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.srv.answerBytes.Load() < 8<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the unread answers reached only %d bytes", h.srv.answerBytes.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}

	other, _ := h.raw(t, "bob", "?since=now")
	resp := rpc(t, other, `{"jsonrpc":"2.0","id":1,"method":"history","params":{"since":0}}`)
	if errCode(resp) != 1002 {
		t.Fatalf("history while the node holds %d bytes of unread answers: %v, want 1002", h.srv.answerBytes.Load(), resp)
	}
	if resp := rpc(t, other, `{"jsonrpc":"2.0","id":2,"method":"presence","params":{"keys":["hog"]}}`); errCode(resp) != 0 {
		t.Errorf("presence, a small answer, was refused too: %v", resp)
	}

	hog.Close()
	deadline = time.Now().Add(10 * time.Second)
	for h.srv.answerBytes.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of answers still counted after their client went", h.srv.answerBytes.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp = rpc(t, other, `{"jsonrpc":"2.0","id":3,"method":"history","params":{"since":0}}`)
	if errCode(resp) != 0 || !bytes.Contains(mustJSON(t, resp), []byte(`"last_seq":0`)) {
		t.Errorf("history after the hog went: %v", resp)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
