package conn

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) {
		c.RateLimit, c.RateBurst, c.RateCloseAfter = 0.001, 2, 3
	})
	c := h.dial(t, "alice", client.Options{})
	ctx := ctxT(t)
	for i := range 2 {
		if _, err := c.Presence(ctx, "alice"); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	for i := range 3 {
		_, err := c.Presence(ctx, "alice")
		var re *client.RPCError
		if !errors.As(err, &re) || re.Code != 1002 {
			t.Fatalf("refused call %d: %v, want 1002", i, err)
		}
	}
	if code := waitClosed(t, c); code != closePolicy {
		t.Fatalf("close code %d, want 4008 after repeated refusals", code)
	}
	if got := counter(h.m, "shardgate_rate_limited_total", ""); got != 3 {
		t.Fatalf("rate limited counter %v", got)
	}
}

func TestConnectionLimitPerKey(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.MaxConnsPerKey = 2 })
	h.dial(t, "alice", client.Options{})
	h.dial(t, "alice", client.Options{})
	_, err := client.Dial(ctxT(t), h.url, client.Options{Token: h.token(t, "alice")})
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closePolicy {
		t.Fatalf("third connection: %v, want close 4008", err)
	}
	h.dial(t, "bob", client.Options{}) // other keys are not affected
}

func TestSlowConsumerClosed4009(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.SendQueue = 16; c.HistoryPage = 8 })
	h.be.manualDelivery = true
	c := h.dial(t, "bob", client.Options{BufferSize: 1})
	big := json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)
	// The client does not read; deliver until the node gives up on it.
	for seq := uint64(1); counter(h.m, "shardgate_slow_consumer_disconnects_total", "") == 0; seq++ {
		if seq > 5000 {
			t.Fatal("send queue never overflowed")
		}
		h.srv.Deliver("bob", []shardgate.Message{{Seq: seq, From: "a", Data: big}})
	}
	// Reading again lets the close frame through.
	go func() {
		for range c.Messages() {
		}
	}()
	if code := waitClosed(t, c); code != closeSlowConsumer {
		t.Fatalf("close code %d, want 4009", code)
	}
	testutil.Eventually(t, 5*time.Second, "close counted", func() bool { return counter(h.m, "shardgate_connections_closed_total", "4009") == 1 })
}

func TestShutdownSendsMovedAndCloses1001(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	h := newHarness(t, nil)
	clients := []*client.Conn{
		h.dial(t, "alice", client.Options{}),
		h.dial(t, "bob", client.Options{}),
		h.dial(t, "bob", client.Options{}),
	}
	if err := clients[1].Subscribe(ctxT(t), "news"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.srv.Shutdown(ctx, func(key string) string { return "ws://elsewhere/v1/ws?key=" + key })
	if err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for i, c := range clients {
		if code := waitClosed(t, c); code != websocket.CloseGoingAway {
			t.Errorf("client %d: close code %d, want 1001", i, code)
		}
		hint, ok := <-c.Moved()
		if !ok || !strings.HasSuffix(hint.URL, "key="+c.Welcome().Key) {
			t.Errorf("client %d: moved hint %+v (%v)", i, hint, ok)
		}
	}
	if n := h.srv.Connections(); n != 0 || len(h.srv.LocalKeys()) != 0 {
		t.Fatalf("%d connections left after shutdown", n)
	}
	if h.be.attachedCount("bob") != 0 || h.be.interested("news") {
		t.Fatal("shutdown left attachments or topic interest behind")
	}
	// New connections are refused.
	_, err = client.Dial(ctxT(t), h.url, client.Options{Token: h.token(t, "carol")})
	if !errors.Is(err, shardgate.ErrUnavailable) {
		t.Fatalf("dial after shutdown: %v, want unavailable", err)
	}
	for _, c := range clients {
		c.Close()
	}
	h.hs.Close()
	goleak.VerifyNone(t, ignore)
}

func TestAttachFailureClosesTryAgain(t *testing.T) {
	h := newHarness(t, nil)
	h.be.fail("attach", shardgate.Errorf(shardgate.KindUnavailable, "no quorum"))
	_, err := client.Dial(ctxT(t), h.url, client.Options{Token: h.token(t, "alice")})
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater || !strings.Contains(ce.Text, "no quorum") {
		t.Fatalf("dial with a failing attach: %v, want close 1013", err)
	}
	testutil.Eventually(t, 5*time.Second, "connection released", func() bool { return h.srv.Connections() == 0 })
	if h.be.attachedCount("alice") != 0 {
		t.Fatal("a failed attach was detached")
	}
}

func TestServerPings(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.PingInterval = 16 * time.Millisecond; c.PongWait = time.Second })
	ws, _ := h.raw(t, "alice")
	pinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil // no pong: the server must drop us after PongWait
	})
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := ws.ReadMessage()
	select {
	case <-pinged:
	default:
		t.Fatal("no ping arrived")
	}
	if err == nil {
		t.Fatal("a silent client was not dropped")
	}
}

// A flood is closed although the bucket lets a frame through every time it
// refills: refusals are counted over a window, not in a row, which each
// frame let through used to reset.
func TestRateLimitClosesAFloodThatRefillsLetThrough(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) {
		c.RateLimit, c.RateBurst, c.RateCloseAfter = 10000, 1, 200 // a refill every 100 µs
	})
	ws, _ := h.raw(t, "alice", "?since=now")
	go func() {
		frame := []byte(`{"jsonrpc":"2.0","id":1,"method":"presence","params":{"keys":["bob"]}}`)
		for range 20000 {
			if ws.WriteMessage(websocket.TextMessage, frame) != nil {
				return
			}
		}
	}()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != closePolicy {
			t.Fatalf("flood ended with %v, want close 4008", err)
		}
		break
	}
	read, refused := counter(h.m, "shardgate_messages_in_total", ""), counter(h.m, "shardgate_rate_limited_total", "")
	if read-refused < 2 {
		t.Fatalf("%v frames read, %v refused: the bucket let too few through for the test to exercise refills", read, refused)
	}
}
