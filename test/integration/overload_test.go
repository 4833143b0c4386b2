package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
)

// Under overload a node answers the excess at once, 1002 to clients and 429
// on the HTTP send, instead of queueing it: what it has taken in stays
// within --node-in-flight however much is offered. Once the load passes,
// every send it acknowledged is readable and the room comes back.
func TestOverloadIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	var holding atomic.Bool
	gate := make(chan struct{})
	c := newCluster(t, 2, func(cfg *app.Config) {
		cfg.NodeInFlight = 4
		// The held writes must not run out of time while the test looks.
		cfg.WriteTimeout = time.Minute
		cfg.ReplicateTimeout = time.Minute
		cfg.EngineHook = func(nc *node.Config) {
			nc.ReplicateFault = func(string, int) error {
				if holding.Load() {
					<-gate
				}
				return nil
			}
		}
	})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the cluster closes: cleanups run last-in first-out
	holding.Store(true)

	n1 := c.node("n1")
	alice := dialRaw(t, c, "n1", "alice")
	for id := 1; id <= 6; id++ {
		frame := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":"bob","data":%d,"id":"m%d"}}`, id, id, id)
		if err := alice.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	// Sends 1-4 are taken in (the first held in replication, the others
	// queued behind it on the connection); 5 and 6 are refused at once.
	for _, id := range []float64{5, 6} {
		m := alice.read()
		e, _ := m["error"].(map[string]any)
		if m["id"] != id || e == nil || e["code"] != 1002.0 || !strings.Contains(fmt.Sprint(e["message"]), "overloaded: node n1 has 4 sends") {
			t.Fatalf("send %v over the node's bound: %v", id, m)
		}
	}
	resp, err := http.Post(n1.AdminURL()+"/v1/users/bob/messages", "application/json", strings.NewReader(`{"data":"over","id":"http-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("HTTP send over the node's bound: %d, want 429", resp.StatusCode)
	}
	fams := scrapeMetrics(t, n1.AdminURL()+"/metrics")
	if got := fams["shardgate_sends_in_flight"].value; got != 4 {
		t.Fatalf("shardgate_sends_in_flight = %v while saturated, want the bound 4", got)
	}
	if got := fams["shardgate_requests_shed_total"].byLabel["bound=node"]; got != 3 {
		t.Fatalf("shardgate_requests_shed_total{bound=node} = %v, want 3 (two client sends, one HTTP send)", got)
	}

	release()
	for i, id := range []float64{1, 2, 3, 4} {
		m := alice.read()
		res, _ := m["result"].(map[string]any)
		if m["id"] != id || res == nil || res["seq"] != float64(i+1) {
			t.Fatalf("answer %d: %v, want id %v with seq %d", i, m, id, i+1)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := n1.Node().History(ctx, "bob", 0, 100)
	if err != nil || len(h.Messages) != 4 || h.LastSeq != 4 {
		t.Fatalf("bob's inbox after the overload: %+v %v, want exactly the 4 acknowledged sends", h, err)
	}
	testutil.Eventually(t, 10*time.Second, "the node's room to come back", func() bool {
		return scrapeMetrics(t, n1.AdminURL()+"/metrics")["shardgate_sends_in_flight"].value == 0
	})
	if code, msg := alice.call(`{"jsonrpc":"2.0","id":7,"method":"send","params":{"to":"bob","data":7}}`); code != 0 {
		t.Fatalf("a send once the load has passed: %v %s", code, msg)
	}
}
