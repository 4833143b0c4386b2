package node

import (
	"testing"

	"github.com/shardgate/shardgate/shard"
)

// A client may connect to a node that has no table yet (its cluster is
// forming, or it starts alone); the first table the node applies is then
// as empty as the one before it. Indexing them panicked and took the
// process down (seen once in the process tests).
func TestATableChangeWithNoTableYetKeepsAConnectedKey(t *testing.T) {
	c := &connections{connDeps: connDeps{name: "n1", shardOf: func(string) int { return 56 }},
		registry: newRegistry(), local: newLocalConns()}
	c.local.add("early", 1)
	moved := 0
	c.tableInstalled(shard.Table{}, shard.Table{}, func(string, string, string) { moved++ })
	if moved != 0 {
		t.Fatalf("%d moves told with no table", moved)
	}
}
