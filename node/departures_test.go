package node

import (
	"slices"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
)

// A node that left is listed for leftListedFor, a dead one never as left,
// and one that joins again at once stops being listed.
func TestLeftNodesAreListedForAWhile(t *testing.T) {
	d := departures{now: time.Now}
	d.set("gone-long-ago", shardgate.StateLeft)
	d.set("just-left", shardgate.StateLeft)
	d.set("crashed", shardgate.StateDead)
	d.set("back", shardgate.StateLeft)
	d.set("back", "")
	d.mu.Lock()
	d.by["gone-long-ago"] = departure{how: shardgate.StateLeft, at: time.Now().Add(-leftListedFor - time.Second)}
	d.mu.Unlock()
	got := d.leftWithin(leftListedFor)
	if !slices.Equal(got, []string{"just-left"}) {
		t.Errorf("listed as left: %v, want [just-left]", got)
	}
	if d.get("gone-long-ago") != shardgate.StateLeft || d.get("crashed") != shardgate.StateDead {
		t.Error("the record of how members went away changed with the listing")
	}
}
