//go:build browser

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/internal/browsertest"
	"github.com/shardgate/shardgate/internal/testutil"
)

// dashPage is the dashboard open in a browser, with the questions the
// scenario asks of it.
type dashPage struct {
	*browsertest.Browser
	t *testing.T
}

// eval evaluates a JavaScript expression that yields a boolean.
func (b *dashPage) eval(expr string) bool {
	b.t.Helper()
	return browsertest.Eval[bool](b.Browser, expr)
}

// seen is the most cells that carried a mark (migrating, under, orphan) at
// once since the page's observer was last reset.
func (b *dashPage) seen(mark string) int {
	b.t.Helper()
	return browsertest.Eval[int](b.Browser, `window.__seen.`+mark)
}

// cellView is what one map cell shows: its home and backups.
type cellView struct {
	Owner   string `json:"owner"`
	Backups string `json:"backups"`
}

func (b *dashPage) cells() []cellView {
	b.t.Helper()
	return browsertest.Eval[[]cellView](b.Browser,
		`[...document.querySelectorAll('#partition-map .cell')].map(c => ({owner: c.dataset.owner, backups: c.dataset.backups}))`)
}

func (b *dashPage) owners() []string {
	b.t.Helper()
	var out []string
	for _, c := range b.cells() {
		out = append(out, c.Owner)
	}
	return out
}

// matchEngine waits until every cell shows the owner and backups the
// engine of n1 has for its shard.
func (b *dashPage) matchEngine(c *tcluster, what string) {
	b.t.Helper()
	testutil.EventuallyExplained(b.t, dashStep, "the page to show "+what, func() string {
		pv, err := c.node("n1").Node().Partitions(context.Background())
		if err != nil {
			return err.Error()
		}
		cells := b.cells()
		if len(cells) != len(pv.Partitions) {
			return fmt.Sprintf("%d cells for %d shards", len(cells), len(pv.Partitions))
		}
		for _, p := range pv.Partitions {
			want := cellView{Owner: p.Owner, Backups: strings.Join(p.Backups, ",")}
			if cells[p.ID] != want {
				return fmt.Sprintf("shard %d shows %+v, the engine has %+v", p.ID, cells[p.ID], want)
			}
		}
		return ""
	})
}
