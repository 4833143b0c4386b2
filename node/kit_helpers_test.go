package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/node/nodetest"
)

// inBubble runs f in a testing/synctest bubble: the engines' timers run on
// the bubble's fake clock, so the bounds the tests check are in fake time
// and do not depend on the load of the machine. The bubble ends only when
// every goroutine started in it has ended; TestMain checks the rest.
//
// Only for tests whose links never swallow a call: the clock of a bubble
// stands still while a goroutine waits for a mutex, and the engine holds
// one (a shard's batch lock) while it waits for a backup's answer, so a
// call that can only end at its deadline may stop the clock for good.
// Tests that cut links run on the real clock (inRealTime).
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Parallel()
	synctest.Test(t, f)
}

// inRealTime runs f on the real clock. Bounds are then generous deadlines
// that fail the test when exceeded.
func inRealTime(t *testing.T, f func(t *testing.T)) {
	t.Parallel()
	f(t)
}

// TestMain checks that no test left a goroutine behind. The kit's tests
// run in parallel, so the check is made once, after all of them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("runtime/pprof.readProfile"))
}

// fastFailure makes the link heartbeats notice a cut link in half a
// second instead of 2.5 s, for tests on the real clock.
func fastFailure(_ string, c *node.Config) {
	c.HeartbeatInterval, c.LinkFailAfter = 100*time.Millisecond, 500*time.Millisecond
}

// send sends one message through the engine of on and fails the test on
// an error.
func send(t testing.TB, on *nodetest.Node, from, to string, data any) shardgate.SendResult {
	t.Helper()
	res, err := trySend(on, from, to, data, "")
	if err != nil {
		t.Fatalf("send from %s to %s through %s: %v", from, to, on.Name, err)
	}
	return res
}

// trySend sends one message with a 5 s budget.
func trySend(on *nodetest.Node, from, to string, data any, id string) (shardgate.SendResult, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return shardgate.SendResult{}, fmt.Errorf("encode %v: %w", data, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return on.Engine.Send(ctx, from, to, b, id)
}

// connect opens a connection of key on the node, replaying from seq 0.
func connect(t testing.TB, on *nodetest.Node, key string, onMsg func(shardgate.Message)) *nodetest.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := on.Deliverer.Connect(ctx, key, 0, onMsg)
	if err != nil {
		t.Fatalf("connect %s on %s: %v", key, on.Name, err)
	}
	return c
}
