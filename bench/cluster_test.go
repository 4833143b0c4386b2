package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/apptest"
	"github.com/shardgate/shardgate/internal/testutil"
)

// MustCluster starts n nodes in this process on loopback (insecure, no
// fsync, 64 shards; mut, when not nil, changes that) and waits until their
// table is stable. They are killed when the test ends.
func MustCluster(tb testing.TB, n int, mut func(*app.Config)) []*app.Server {
	tb.Helper()
	nodes := apptest.Start(tb, n, func(cfg *app.Config) {
		cfg.Partitions = 64
		cfg.Logger = testutil.Logger(tb)
		if mut != nil {
			mut(cfg)
		}
	})
	testutil.EventuallyExplained(tb, 30*time.Second, "a stable table", func() string { return unstable(nodes) })
	return nodes
}

// unstable says why the cluster is not settled yet, "" when it is.
func unstable(nodes []*app.Server) string {
	var version uint64
	for i, s := range nodes {
		if err := s.Node().Ready(); err != nil {
			return s.Name() + " not ready: " + err.Error()
		}
		pv, err := s.Node().Partitions(context.Background())
		if err != nil {
			return err.Error()
		}
		if i == 0 {
			version = pv.Version
		} else if pv.Version != version {
			return fmt.Sprintf("%s has table v%d, %s v%d", s.Name(), pv.Version, nodes[0].Name(), version)
		}
		for _, p := range pv.Partitions {
			if p.State != shardgate.ShardStable || p.UnderReplicated {
				return fmt.Sprintf("shard %d is %s", p.ID, p.State)
			}
		}
	}
	return ""
}

// ownGoroutines describes goroutines still running code of this package or
// of the client SDK, other than the tests themselves; the cluster's own
// goroutines are not the bench's business.
func ownGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") {
			continue
		}
		if strings.Contains(g, "shardgate/bench.") || strings.Contains(g, "shardgate/client.") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}
