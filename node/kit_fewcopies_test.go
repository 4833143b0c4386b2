package node_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/node/nodetest"
)

// A cluster with fewer members than the copies --backups asks for keeps
// each shard on every member and acknowledges writes with that many
// copies. An operator is told so, once per member count, and no more once
// enough nodes have joined.
func TestFewerMembersThanCopiesIsLogged(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var logs testutil.Buffer
		count := func(s string) int { return strings.Count(logs.String(), s) }
		const warning = "fewer members than copies wanted"
		c := nodetest.Start(t, 2, nodetest.Options{Backups: 2, Engine: func(name string, cfg *node.Config) {
			if name == "n1" {
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}
		}})
		c.WaitSettled(30 * time.Second)
		if n := count("members=2 copies_wanted=3"); n != 1 {
			t.Errorf("warned %d times of 2 members for 3 copies, want once (%d lines logged)", n, count("\n"))
		}
		c.AddNode("n3")
		c.WaitSettled(30 * time.Second)
		before := count(warning)
		c.AddNode("n4")
		c.WaitSettled(30 * time.Second)
		if after := count(warning); after != before {
			t.Errorf("warned again with enough members")
		}
	})
}

// A graceful stop (SIGTERM) cannot be refused as an operator's drain is,
// but a stop that leaves fewer nodes than copies wanted says so; one that
// leaves enough does not.
func TestStopThatLeavesTooFewCopiesIsLogged(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		logs := map[string]*testutil.Buffer{}
		const warning = "stopping leaves fewer nodes than copies wanted"
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(name string, cfg *node.Config) {
			logs[name] = &testutil.Buffer{}
			cfg.Logger = slog.New(slog.NewTextHandler(logs[name], nil))
		}})
		c.WaitSettled(30 * time.Second)
		c.StopNode("n3")
		if strings.Contains(logs["n3"].String(), warning) {
			t.Errorf("n3's stop left 2 nodes for 2 copies, yet warned")
		}
		c.WaitSettled(30 * time.Second)
		c.StopNode("n2")
		if !strings.Contains(logs["n2"].String(), warning) || !strings.Contains(logs["n2"].String(), "remaining=1 copies_wanted=2") {
			t.Errorf("n2's stop left 1 node for 2 copies without a warning; its log:\n%s", logs["n2"].String())
		}
	})
}

// The cluster keeps as many copies as its most demanding live member asks
// for. A coordinator started with --backups 0 among nodes with 1 used to
// publish tables without backups: every write was acknowledged with one
// copy. The node whose setting differs is warned.
func TestOneNodeWithFewerBackupsDoesNotLowerTheCluster(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var logs testutil.Buffer
		c := nodetest.Start(t, 3, nodetest.Options{Backups: 1, Engine: func(name string, cfg *node.Config) {
			if name == "n1" { // the oldest: the coordinator
				cfg.Shard.Backups = 0
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}
		}})
		c.WaitSettled(30 * time.Second)
		cv, err := c.Node("n2").Engine.Cluster(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cv.Coordinator != "n1" || cv.Backups != 1 {
			t.Fatalf("coordinator %s, cluster backups %d; want n1 coordinating with the members' 1", cv.Coordinator, cv.Backups)
		}
		pv, err := c.Node("n1").Engine.Partitions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pv.Partitions {
			if len(p.Backups) != 1 {
				t.Fatalf("shard %d has backups %v, want one", p.ID, p.Backups)
			}
		}
		if !strings.Contains(logs.String(), "this node's --backups differs from the cluster's") {
			t.Errorf("n1 did not warn that its --backups differs; its log:\n%s", logs.String())
		}
	})
}

// With two of three nodes dead and no quorum to make a table without them,
// the survivor holds the only copy of every shard and is home of a third
// of them. It says so: every shard under-replicated, and those of the dead
// homes without a live home. It used to count copies against the live
// nodes alone and report all shards healthy.
func TestDeadMembersLeaveShardsUnderReplicated(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Backups: 1})
		c.WaitSettled(30 * time.Second)
		c.Kill("n1")
		c.Kill("n2")
		pv, err := c.Node("n3").Engine.Partitions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		under, homeDown, deadHomes := 0, 0, 0
		for _, p := range pv.Partitions {
			if p.UnderReplicated {
				under++
			}
			if p.HomeDown {
				homeDown++
			}
			if p.Owner != "n3" {
				deadHomes++
			}
		}
		if under != len(pv.Partitions) {
			t.Errorf("%d of %d shards under-replicated with one node of three alive, want all", under, len(pv.Partitions))
		}
		if homeDown != deadHomes || deadHomes == 0 {
			t.Errorf("%d shards marked without a live home, %d are homed on dead nodes", homeDown, deadHomes)
		}
	})
}
