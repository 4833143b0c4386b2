package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
)

// The event log is the same from every node and survives a restart of the
// whole cluster; so does each shard's history.
func TestEventLogSurvivesRestartOfEveryNode(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		api := c.Node("n2").Engine
		route, err := api.Route(ctx, "user-7")
		if err != nil {
			t.Fatal(err)
		}
		to := "n1"
		if route.Owner == "n1" {
			to = "n2"
		}
		for _, a := range []shardgate.Action{
			{Kind: shardgate.ActionMove, Shard: route.Shard, Node: to, Actor: "alice", Reason: "hot key"},
			{Kind: shardgate.ActionRebalance, Actor: "bob"},
			{Kind: shardgate.ActionRebalance, Actor: "carol"},
		} {
			if _, err := api.Act(ctx, a); err != nil {
				t.Fatalf("%s by %s: %v", a.Kind, a.Actor, err)
			}
			c.WaitSettled(30 * time.Second)
		}
		log := sameLogEverywhere(t, c)
		text := logText(log)
		for _, w := range []string{"hot key", "requested by bob", "requested by carol", "nothing to move"} {
			if !strings.Contains(text, w) {
				t.Errorf("the event log does not mention %q:\n%s", w, text)
			}
		}
		hist := sameHistoryEverywhere(t, c, route.Shard)
		if !strings.Contains(fmt.Sprint(hist), "move of shard") {
			t.Errorf("shard %d's history does not mention the move: %+v", route.Shard, hist)
		}

		for _, nd := range c.Live() {
			c.Kill(nd.Name)
		}
		for _, name := range []string{"n1", "n2", "n3"} {
			c.Restart(name)
		}
		c.WaitSettled(30 * time.Second)
		after := sameLogEverywhere(t, c)
		if len(after) < len(log) || logText(after[:len(log)]) != text {
			t.Errorf("the log before the restart is not a prefix of the log after it")
		}
		if h := sameHistoryEverywhere(t, c, route.Shard); len(h) < len(hist) || fmt.Sprint(h[:len(hist)]) != fmt.Sprint(hist) {
			t.Errorf("shard history after the restart:\n%+v\nbefore:\n%+v", h, hist)
		}
	})
}

func logText(entries []shardgate.LogEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%d v%d %s %s %s %s: %s\n", e.Seq, e.Version, e.Type, e.Actor, e.Action, e.Node, e.Reason)
	}
	return b.String()
}

// sameLogEverywhere waits until every running node holds the same event
// log and returns it.
func sameLogEverywhere(t *testing.T, c *nodetest.Cluster) []shardgate.LogEntry {
	t.Helper()
	var log []shardgate.LogEntry
	testutil.EventuallyExplained(t, 30*time.Second, "the same event log on every node", func() string {
		var first []byte
		for i, nd := range c.Live() {
			entries, last, err := nd.Engine.EventLog(context.Background(), 0, 0)
			if err != nil || len(entries) == 0 || entries[len(entries)-1].Seq != last {
				return fmt.Sprintf("%s: %d entries, last %d, %v", nd.Name, len(entries), last, err)
			}
			raw, err := json.Marshal(entries)
			if err != nil {
				return err.Error()
			}
			if i == 0 {
				first, log = raw, entries
			} else if string(raw) != string(first) {
				return nd.Name + "'s log differs from " + c.Live()[0].Name + "'s"
			}
		}
		return ""
	})
	return log
}

// sameHistoryEverywhere waits until every running node tells the same
// ownership history of shard id and returns it.
func sameHistoryEverywhere(t *testing.T, c *nodetest.Cluster, id int) []shardgate.OwnershipChange {
	t.Helper()
	var hist []shardgate.OwnershipChange
	testutil.EventuallyExplained(t, 30*time.Second, "the same shard history on every node", func() string {
		var first string
		for i, nd := range c.Live() {
			h, err := nd.Engine.ShardHistory(context.Background(), id)
			if err != nil {
				return nd.Name + ": " + err.Error()
			}
			if i == 0 {
				first, hist = fmt.Sprint(h), h
			} else if fmt.Sprint(h) != first {
				return nd.Name + "'s history differs"
			}
		}
		return ""
	})
	return hist
}
