//go:build browser

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/browsertest"
)

const (
	dashToken = "dashboard-test-token"
	// dashStep bounds one browser step or one wait for the page.
	dashStep = 30 * time.Second
)

// TestDashboardRealCluster drives the embedded dashboard of a real
// in-process cluster in headless Chromium: log in with the admin token, see
// three nodes and every shard, watch a fourth node join without a reload,
// drain a node from the page and check, in the page and in the engine, that
// its shards moved off it; then kill a node and check the failover shows.
// Run it with: go test -tags browser -run Dashboard -v ./test/integration/
func TestDashboardRealCluster(t *testing.T) {
	d := openDashboard(t)
	d.joinFourth()
	d.drainFromPage("n3")
	d.failNode("n2")
	if !d.b.eval(`window.__sameDocument === true`) {
		t.Errorf("the page reloaded at some point")
	}
	d.b.MustBeClean()
}

// dashRun is one run of the dashboard test: a cluster and a page on n1.
type dashRun struct {
	t     *testing.T
	c     *tcluster
	b     *dashPage
	began time.Time
}

func (d *dashRun) phase(what string) {
	d.t.Helper()
	d.t.Logf("%-36s at %6.2fs", what, time.Since(d.began).Seconds())
}

// openDashboard starts three nodes with traffic and logs in to n1's page.
func openDashboard(t *testing.T) *dashRun {
	d := &dashRun{t: t, began: time.Now()}
	d.c = newCluster(t, 3, func(cfg *app.Config) { cfg.AdminToken = dashToken })
	for _, s := range d.c.live() {
		shutDownWhenDrained(t, d.c, s.Name())
	}
	startTraffic(t, d.c)
	d.phase("3-node cluster stable")
	b := &dashPage{Browser: browsertest.New(t, browsertest.Options{Step: dashStep, Poll: 50 * time.Millisecond}), t: t}
	d.b = b
	b.Do("load the dashboard", chromedp.Navigate(d.c.node("n1").AdminURL()+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.Do("log in",
		chromedp.SendKeys(chromedp.CSS("#token"), dashToken),
		chromedp.Click(chromedp.CSS("#login-btn")))
	b.WaitFor("three node rows", `document.querySelectorAll('#nodes tbody tr[data-node]').length === 3`)
	b.WaitFor("the stream to go live", `document.querySelector('#live').textContent === 'live'`)
	b.WaitFor("64 cells", `document.querySelectorAll('#partition-map [data-shard]').length === 64`)
	b.eval(`(() => {
		window.__sameDocument = true;
		// The most cells marked at once, per mark.
		const seen = window.__seen = {migrating: 0, under: 0, orphan: 0};
		const map = document.querySelector('#partition-map');
		new MutationObserver(() => {
			for (const k of Object.keys(seen)) {
				seen[k] = Math.max(seen[k], map.querySelectorAll('.cell.' + k).length);
			}
		}).observe(map, {attributes: true, subtree: true, attributeFilter: ['class']});
		// The log keeps its last entries only: remember every one.
		const events = window.__events = [];
		new MutationObserver((records) => {
			for (const r of records) for (const n of r.addedNodes) events.push(n.textContent);
		}).observe(document.querySelector('#event-log'), {childList: true});
		return true;
	})()`)
	b.matchEngine(d.c, "the 3-node table")
	if got := b.Text("#coordinator"); got != "n1" {
		t.Errorf("coordinator shown as %q, want n1", got)
	}
	d.phase("page shows 3 nodes, 64 shards")
	b.Shot("10-cluster-3-nodes.png")
	return d
}

// joinFourth starts n4: the page follows without a reload. It also takes
// the README screenshot once the charts hold some history.
func (d *dashRun) joinFourth() {
	t, c, b := d.t, d.c, d.b
	before := b.owners()
	c.add("n4")
	shutDownWhenDrained(t, c, "n4")
	for j := 0; j < 3; j++ {
		c.dial("n4", fmt.Sprintf("viewer-n4-%d", j), nil)
	}
	b.WaitFor("n4 in the node list and the map",
		`!!document.querySelector('#nodes tr[data-node="n4"]') &&
		 document.querySelectorAll('#partition-map [data-owner="n4"]').length > 0`)
	d.phase("page shows n4 owning shards")
	c.waitStable(30 * time.Second)
	b.matchEngine(c, "the 4-node table")
	changed := 0
	for i, o := range b.owners() {
		if o != before[i] {
			changed++
		}
	}
	if changed == 0 {
		t.Errorf("no cell changed its owner after n4 joined")
	}
	if n := b.Count(`#nodes tbody tr[data-node]`); n != 4 {
		t.Errorf("node rows = %d, want 4", n)
	}
	if !b.eval(`window.__sameDocument === true`) {
		t.Fatalf("the page reloaded to show the new node")
	}
	b.WaitFor("the join in the event log", `window.__events.some(e => e.includes('joined node=n4'))`)
	// Every node re-gossips its metadata on each table version; the log
	// shows only membership changes.
	if b.eval(`window.__events.some(e => e.includes('node=n2') && !e.includes('joined'))`) {
		t.Errorf("the event log lists routine metadata updates of n2")
	}
	t.Logf("%d of 64 cells changed owner; most cells marked migrating at once: %d", changed, b.seen("migrating"))
	d.phase("page matches the 4-node table")

	b.WaitFor("20 s of chart samples of 4 nodes", `window.shardgate.state.samples.size === 4 &&
		[...window.shardgate.state.samples.values()].every(s => s.length && Date.now() - s[0][0] > 20000)`)
	// The route box and the shard panel, answered by the real engine.
	route, err := c.node("n1").Node().Route(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.Do("look up alice",
		chromedp.SendKeys(chromedp.CSS("#route-key"), "alice"),
		chromedp.Click(chromedp.CSS("#route-form button")))
	b.WaitFor("alice's route and shard history", fmt.Sprintf(
		`document.querySelector('#route-result').textContent.includes('home%s') &&
		 document.querySelector('#shard-id').textContent === '%d' &&
		 document.querySelectorAll('#shard-history li:not(.muted)').length > 0`, route.Owner, route.Shard))
	b.Shot("11-cluster-4-nodes.png")
	b.Capture("dashboard-1280x800.png")
}

// drainFromPage drains a node through its button and confirmation, then
// checks through the engine and the page that it holds nothing.
func (d *dashRun) drainFromPage(name string) {
	t, c, b := d.t, d.c, d.b
	drained := c.node(name)
	b.Do("ask to drain "+name,
		chromedp.Click(chromedp.CSS(`button[data-action="drain"][data-node="`+name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	if text := b.Text("#confirm-text"); !strings.Contains(text, "Drain "+name+": its ") {
		t.Errorf("confirmation says %q", text)
	}
	// The coordinator's plan is in the dialog before anything is done.
	b.WaitFor("the drain's plan", `(() => {
		const p = document.querySelector('#plan-report');
		return !!p && p.textContent.includes('Plan of drain `+name+`') && p.textContent.includes('to copy');
	})()`)
	b.Shot("12-confirm-drain.png")
	confirmed := time.Now()
	b.Do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#move-report")))
	// The engine reports a drain's moves without destinations: the report
	// must still read well.
	if report := b.Text("#move-report"); !strings.Contains(report, name) || strings.Contains(report, "→ (") {
		t.Errorf("drain report reads %q", report)
	}
	b.Shot("13-drain-started.png")
	b.Do("close the dialog", chromedp.Click(chromedp.CSS("#confirm-cancel")))
	d.phase("drain confirmed")

	select {
	case <-drained.Node().Left():
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not leave within 60 s of the drain", name)
	}
	d.phase(fmt.Sprintf("%s left, %v after the confirm click", name, time.Since(confirmed).Round(time.Millisecond)))
	pv, err := c.node("n1").Node().Partitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pv.Partitions {
		if p.Owner == name || slices.Contains(p.Backups, name) || slices.Contains(p.Pending, name) {
			t.Errorf("after the drain, shard %d still names %s: owner %s backups %v pending %v", p.ID, name, p.Owner, p.Backups, p.Pending)
		}
	}
	b.WaitFor("no shard on "+name+" in the page", fmt.Sprintf(
		`document.querySelectorAll('#partition-map [data-owner="%s"]').length === 0 &&
		 [...document.querySelectorAll('#partition-map .cell')].every(c => !c.dataset.backups.split(',').includes('%[1]s'))`, name))
	// The row goes, or stays with nothing owned and no stale load.
	b.WaitFor(name+" gone from the node list, or shown with nothing", fmt.Sprintf(
		`(() => {
			const r = document.querySelector('#nodes tr[data-node="%s"]');
			if (!r) return true;
			const td = r.querySelectorAll('td'), st = r.querySelector('.state').textContent;
			return td[3].textContent === '0' && td[4].textContent === '0' && (st === 'draining' || td[5].textContent === '–');
		})()`, name))
	c.waitStable(30 * time.Second)
	b.matchEngine(c, "the table after the drain")
	d.phase("page and engine agree, " + name + " empty")
	b.Shot("14-after-drain.png")
}

// failNode kills a node. Its shards lack copies only until the failover's
// copies are done (about 100 ms here, with small shards): too short for the
// page's coalesced re-reads to catch every time. So the engine's answer
// from that window is also recorded and replayed into the page.
func (d *dashRun) failNode(name string) {
	t, c, b := d.t, d.c, d.b
	b.eval(`(window.__seen = {migrating: 0, under: 0, orphan: 0}, true)`)
	rec := recordUnderReplicated(t, c.node("n1").AdminURL())
	c.kill(name)
	b.WaitFor(name+" dead in the event log", `window.__events.some(e => e.includes('dead node=`+name+`'))`)
	b.WaitFor(name+" shown dead or gone", `(() => {
		const r = document.querySelector('#nodes tr[data-node="`+name+`"]');
		return !r || r.querySelector('.state').textContent === 'dead';
	})()`)
	d.phase("page shows " + name + " dead")
	c.waitStable(30 * time.Second)
	b.matchEngine(c, "the table after the failover")
	t.Logf("live, the page marked at most %d shards under-replicated, %d migrating, %d with their home down",
		b.seen("under"), b.seen("migrating"), b.seen("orphan"))
	replayUnderReplicated(t, b, rec.stop())
	b.matchEngine(c, "the table after the replay")
	b.WaitFor("no shard marked under-replicated or migrating",
		`document.querySelectorAll('#partition-map .cell.under, #partition-map .cell.migrating').length === 0`)
	// The route box answered before all this follows the table.
	r, err := c.node("n1").Node().Route(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.WaitFor("the route of alice in the current table", fmt.Sprintf(
		`(t => t.includes('home%s') && t.includes('backups%s') && t.includes('tablev%d'))(document.querySelector('#route-result').textContent)`,
		r.Owner, strings.Join(r.Backups, ", "), r.Version))
	d.phase("page and engine agree after failover")
	b.Shot("15-after-failover.png")
}

// shutDownWhenDrained does in-process what cmd/node does: when the engine
// of a node has left (an operator drained it), its server shuts down.
func shutDownWhenDrained(t *testing.T, c *tcluster, name string) {
	s := c.node(name)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-quit:
			return
		case <-s.Node().Left():
		}
		c.mu.Lock()
		_, ok := c.nodes[name]
		delete(c.nodes, name)
		c.mu.Unlock()
		if !ok {
			return // killed by the test
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shut down %s after its drain: %v", name, err)
		}
	}()
	t.Cleanup(func() { close(quit); <-done })
}

// startTraffic keeps a few clients connected to every node and a light
// stream of sends flowing through n1, so the node table and the charts show
// real load. It ends with the test.
func startTraffic(t *testing.T, c *tcluster) {
	for i, s := range c.live() {
		for j := 0; j <= 2*i+1; j++ {
			c.dial(s.Name(), fmt.Sprintf("viewer-%s-%d", s.Name(), j), nil)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// 40 messages/s, twice that every other 8 s, so the rate
			// chart has some shape.
			for k := 0; k <= (i/320)%2; k++ {
				sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
				_, _ = c.node("n1").Node().Send(sctx, "dashboard", fmt.Sprintf("inbox-%d", (i+k)%97), json.RawMessage(`"hello"`), "")
				scancel()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}
