package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/test/checker"
)

// sdkNodes lists the public URLs of every node, as an application would
// configure them.
func (c *tcluster) sdkNodes() []string {
	var out []string
	for _, s := range c.live() {
		out = append(out, s.PublicURL())
	}
	return out
}

func sdkConnect(t *testing.T, c *tcluster, key string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, client.Config{Nodes: c.sdkNodes(), User: key,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, CallTimeout: 5 * time.Second, MovedDelay: time.Second})
	if err != nil {
		t.Fatalf("connect %s: %v", key, err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// The SDK through the faults a service meets: its key's home killed, the
// home drained, the key's shard moved. Senders and the receiver are plain
// client.Clients with no reconnect code: every acknowledged message must
// reach the receiver once, in order.
func TestSDKThroughFaults(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"home killed", "home drained", "shard moved"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 3, nil)
			const receiver = "sdk-receiver"
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			home, err := c.node("n1").Node().Route(ctx, receiver)
			if err != nil {
				t.Fatal(err)
			}
			rc := sdkConnect(t, c, receiver)
			if rc.Welcome().Node != home.Owner {
				t.Fatalf("connected to %s, not the key's home %s", rc.Welcome().Node, home.Owner)
			}

			rec := checker.NewRecorder()
			var mu sync.Mutex
			var delivered []uint64
			recvDone := make(chan struct{})
			go func() {
				defer close(recvDone)
				for m := range rc.Messages() {
					rec.Delivered(receiver, m.Seq)
					mu.Lock()
					delivered = append(delivered, m.Seq)
					mu.Unlock()
				}
			}()

			const perSender = 120
			var acked atomic.Int64
			var wg sync.WaitGroup
			for _, from := range []string{"sdk-s1", "sdk-s2"} {
				sc := sdkConnect(t, c, from)
				wg.Go(func() {
					for i := range perSender {
						id := fmt.Sprintf("%s-%d", from, i)
						r, err := sc.Send(ctx, receiver, i, id)
						switch {
						case err == nil:
							rec.Attempt(receiver, from, id, checker.Acked, r.Seq)
							acked.Add(1)
						case client.Retryable(err):
							rec.Attempt(receiver, from, id, checker.Unknown, 0)
						default:
							rec.Attempt(receiver, from, id, checker.Failed, 0)
						}
					}
				})
			}
			testutil.Eventually(t, 20*time.Second, "a third of the sends acknowledged", func() bool { return acked.Load() >= 2*perSender/3 })
			other := "n1"
			if home.Owner == "n1" {
				other = "n2"
			}
			api := c.node(other).Node()
			switch fault {
			case "home killed":
				c.kill(home.Owner)
			case "home drained":
				if _, err := api.Drain(ctx, home.Owner); err != nil {
					t.Fatalf("drain %s: %v", home.Owner, err)
				}
			case "shard moved":
				if _, err := api.MoveShard(ctx, home.Shard, other); err != nil {
					t.Fatalf("move shard %d: %v", home.Shard, err)
				}
			}
			wg.Wait()
			if n := acked.Load(); n != 2*perSender {
				t.Fatalf("%d of %d sends acknowledged: the client retries until its context ends", n, 2*perSender)
			}
			testutil.Eventually(t, 30*time.Second, "the key's home changed", func() bool {
				r, err := api.Route(ctx, receiver)
				return err == nil && r.Owner != home.Owner
			})
			testutil.Eventually(t, 30*time.Second, "every message delivered", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(delivered) >= 2*perSender
			})
			// The old home hints "moved" once its table changed and the
			// client follows when idle: all messages may be delivered (the
			// old home relays) a moment before the receiver changes node.
			testutil.EventuallyExplained(t, 15*time.Second, "the receiver followed the fault to another connection", func() string {
				switch {
				case rc.Stats().Reconnects == 0:
					return "the receiver never changed connection"
				case fault != "home killed" && rc.Welcome().Node == home.Owner:
					return "the receiver is still on " + home.Owner
				}
				return ""
			})
			inbox := c.inbox(receiver)
			rc.Close()
			<-recvDone
			if rep := rec.Check(map[string][]shardgate.Message{receiver: inbox}); !rep.OK() || rep.Acked != 2*perSender {
				t.Fatalf("checker: %s", rep)
			}
			mu.Lock()
			defer mu.Unlock()
			want := make([]uint64, len(inbox))
			for i, m := range inbox {
				want[i] = m.Seq
			}
			if !slices.Equal(delivered, want) {
				t.Fatalf("delivered %d seqs, inbox has %d: not every stored message once, in order", len(delivered), len(want))
			}
			t.Logf("%s: receiver reconnected %d times, now on %s", fault, rc.Stats().Reconnects, rc.Welcome().Node)
		})
	}
}
