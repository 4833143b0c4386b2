package conn

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/internal/testutil"
)

// The send quota is per key across all its connections on the node: two
// connections of one key share it, another key has its own, and it goes
// when the key's last connection does.
func TestUserSendRateAcrossConnections(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) {
		c.UserSendRate = 0.001 // no refill during the test
		c.UserSendBurst = 3
	})
	a1, _ := h.raw(t, "alice")
	a2, _ := h.raw(t, "alice")
	send := func(ws *websocket.Conn, id int) map[string]any {
		return rpc(t, ws, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":"bob","data":%d}}`, id, id))
	}
	for i, ws := range []*websocket.Conn{a1, a2, a1} {
		if resp := send(ws, i); errCode(resp) != 0 {
			t.Fatalf("send %d within the quota: %v", i, resp)
		}
	}
	for i, ws := range []*websocket.Conn{a2, a1} {
		resp := send(ws, 10+i)
		msg, _ := resp["error"].(map[string]any)["message"].(string)
		if errCode(resp) != 1002 || !strings.Contains(msg, "over all its connections") {
			t.Fatalf("send over the quota on connection %d: %v", i, resp)
		}
	}
	if resp := rpc(t, a1, `{"jsonrpc":"2.0","id":20,"method":"publish","params":{"topic":"t","data":1}}`); errCode(resp) != 1002 {
		t.Fatalf("publish over the quota: %v", resp)
	}
	// Other keys are not affected, and other methods still work.
	b, _ := h.raw(t, "carol")
	if resp := send(b, 30); errCode(resp) != 0 {
		t.Fatalf("another key: %v", resp)
	}
	if resp := rpc(t, a1, `{"jsonrpc":"2.0","id":31,"method":"history","params":{"since":0}}`); errCode(resp) != 0 {
		t.Fatalf("history over the send quota: %v", resp)
	}
	h.be.mu.Lock()
	n := len(h.be.inbox["bob"])
	h.be.mu.Unlock()
	if n != 4 {
		t.Fatalf("bob has %d messages, want the 4 accepted", n)
	}
	// Once every connection of alice is gone, a new one starts afresh.
	a1.Close()
	a2.Close()
	testutil.Eventually(t, 5*time.Second, "alice's connections to close", func() bool { return len(h.srv.connsOf("alice")) == 0 })
	a3, _ := h.raw(t, "alice")
	if resp := send(a3, 40); errCode(resp) != 0 {
		t.Fatalf("new connection after the old ones closed: %v", resp)
	}
}
