package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/client"
)

// The minority side of a 2|1 partition answers every write with a prompt
// 1003 that says why, on the client protocol and on the HTTP API, from the
// moment of the cut (before memberlist has noticed anything) until it sees
// a majority again. Nothing it refused is stored. The budgets are the
// sub-second ones the documentation gives for that.
func TestMinorityAnswersPromptly(t *testing.T) {
	c := newFaultyClusterWith(t, 3, func(cfg *app.Config) {
		cfg.WriteTimeout, cfg.ReplicateTimeout = 800*time.Millisecond, 500*time.Millisecond
	})
	local := keyHomedOn(t, c, "n3", "own")
	remote := keyHomedOn(t, c, "n1", "far")
	cl := c.dial("n3", "prober", nil)
	probes := map[string]int{}

	c.net.Isolate(c.ips["n3"])
	var waits []time.Duration
	deadline := time.Now().Add(10 * time.Second) // past memberlist's failure detection
	for i := 0; time.Now().Before(deadline); i++ {
		to := local
		if i%2 == 1 {
			to = remote
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := cl.Send(ctx, to, i, fmt.Sprintf("p%d", i))
		waits = append(waits, time.Since(start))
		cancel()
		var rpc *client.RPCError
		if !errors.As(err, &rpc) || rpc.Code != shardgate.CodeUnavailable || rpc.Message == "" {
			t.Fatalf("send %d to %s on the minority: %v, want a 1003 with a reason", i, to, err)
		}
		probes[to]++
		if i < 2 {
			t.Logf("minority answer: %s", rpc.Message)
		}

		start = time.Now()
		req, _ := http.NewRequest(http.MethodPost, c.node("n3").AdminURL()+"/v1/users/"+to+"/messages", bytes.NewReader([]byte(`{"data":1,"from":"api"}`)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("HTTP send on the minority: %v", err)
		}
		resp.Body.Close()
		waits = append(waits, time.Since(start))
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("HTTP send on the minority: status %d, want 503", resp.StatusCode)
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	t.Logf("minority answered %d writes: p50 %v, p99 %v, max %v", len(waits),
		waits[len(waits)/2].Round(time.Millisecond), waits[len(waits)*99/100].Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond))

	c.net.Heal()
	c.waitStable(90 * time.Second)
	for _, k := range []string{local, remote} {
		for _, m := range c.inbox(k) {
			t.Errorf("%s holds %s (seq %d from %s), refused on the minority", k, m.Data, m.Seq, m.From)
		}
	}
}

// A shard whose writer queue is full answers 1002 at once instead of
// queueing without bound, and a refused write is not stored: the inbox
// holds exactly the acknowledged sends.
func TestOverloadedShardAnswersRateLimited(t *testing.T) {
	c := newCluster(t, 3, func(cfg *app.Config) { cfg.WriterQueue = 4 })
	key := keyHomedOn(t, c, "n2", "hot")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	acked, limited := map[uint64]bool{}, 0
	var wg sync.WaitGroup
	for _, on := range []string{"n1", "n2"} {
		api := c.node(on).Node()
		for i := range 200 {
			wg.Go(func() {
				res, err := api.Send(ctx, "load", key, json.RawMessage(fmt.Sprintf(`"%s-%d"`, on, i)), "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					acked[res.Seq] = true
				case shardgate.KindOf(err) == shardgate.KindRateLimited:
					limited++
				default:
					t.Errorf("send: %v, want a seq or 1002", err)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d acknowledged, %d answered 1002", len(acked), limited)
	if limited == 0 {
		t.Fatal("400 concurrent sends into a writer queue of 4: none was answered 1002")
	}
	inbox := c.inbox(key)
	if len(inbox) != len(acked) {
		t.Fatalf("inbox holds %d messages, %d were acknowledged: refused writes were stored", len(inbox), len(acked))
	}
	for _, m := range inbox {
		if !acked[m.Seq] {
			t.Fatalf("seq %d stored but never acknowledged", m.Seq)
		}
	}
}
