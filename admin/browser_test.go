//go:build browser

package admin

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/browsertest"
)

// TestBrowserDashboard drives the embedded dashboard in headless Chromium
// against the fake engine: login, live updates over SSE, the shard panel,
// the route box, a confirmed drain, and a 1024-shard, 20-node table.
// Run it with: go test -tags browser -run Browser ./admin/
func TestBrowserDashboard(t *testing.T) {
	h := newHarnessWith(t, Config{Token: testToken, StatsInterval: 250 * time.Millisecond}, newFake(64, 3))
	base := startServer(t, h)
	b := newBrowser(t)

	// A token is configured: the page asks for it before any request.
	b.Do("load the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if n := browsertest.Eval[int](b, `document.querySelectorAll('#nodes tbody tr').length`); n != 0 {
		t.Fatalf("%d node rows before login", n)
	}
	b.Do("log in",
		chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		chromedp.Click(chromedp.CSS("#login-btn")),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="n3"]`)))
	b.WaitFor("the stream to go live", `document.querySelector('#live').textContent === 'live'`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('#nodes tbody tr[data-node]').length`); n != 3 {
		t.Errorf("node rows = %d, want 3", n)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('#partition-map [data-shard]').length`); n != 64 {
		t.Errorf("map cells = %d, want 64", n)
	}
	if c := browsertest.Eval[string](b, `document.querySelector('#coordinator').textContent`); c != "n1" {
		t.Errorf("coordinator = %q", c)
	}
	if !browsertest.Eval[bool](b, `!!document.querySelector('#nodes tr[data-node="n1"] .badge')`) {
		t.Errorf("no coordinator badge on n1")
	}
	if v := browsertest.Eval[string](b, `document.querySelector('#table-version').textContent`); v != "1" {
		t.Errorf("table version = %q", v)
	}
	b.WaitFor("chart samples", `window.shardgate.state.samples.size === 3`)
	b.Shot("01-dashboard-3-nodes.png")

	// A node joins: the engine's events reach the page, which re-reads the
	// cluster and the table without a reload.
	browsertest.Eval[bool](b, `window.__sameDocument = true`)
	h.fake.setTable(2, 64, 4)
	h.fake.emit(shardgate.Event{Type: "member", Data: map[string]string{"name": "n4", "state": "active"}})
	h.fake.appendLog(shardgate.LogEntry{Type: shardgate.LogMember, Action: "joined", Node: "n4", Reason: "n4 is a member of the table", At: 1700000000000})
	h.fake.emit(shardgate.Event{Type: "table", Data: map[string]any{"version": 2}})
	b.WaitFor("n4 in the node list and the map",
		`!!document.querySelector('#nodes tr[data-node="n4"]') &&
		 document.querySelectorAll('#partition-map [data-owner="n4"]').length === 16 &&
		 document.querySelector('#table-version').textContent === '2'`)
	if !browsertest.Eval[bool](b, `window.__sameDocument === true`) {
		t.Errorf("the page reloaded to show the update")
	}
	b.WaitFor("the member entry of the event log", `document.querySelector('#event-log').textContent.includes('joined node=n4')`)
	b.Shot("02-live-update-4-nodes.png")

	// A shard's panel: facts and ownership history.
	b.Do("open shard 5", chromedp.Click(chromedp.CSS(`#partition-map [data-shard="5"]`)))
	b.WaitFor("shard 5 history", `document.querySelector('#shard-history').textContent.includes('initial table')`)
	if facts := browsertest.Eval[string](b, `document.querySelector('#shard-facts').textContent`); !strings.Contains(facts, "migrating") {
		t.Errorf("shard 5 facts %q do not say it is migrating", facts)
	}

	// Route look-up.
	b.Do("look up alice",
		chromedp.SendKeys(chromedp.CSS("#route-key"), "alice"),
		chromedp.Click(chromedp.CSS("#route-form button")))
	// The answer opens the route's shard in the panel, which reads that
	// shard's history: wait for that read too, or it may land after the
	// reset below and pass for a call the drain dialog made.
	b.WaitFor("the route and its shard's history", `(() => {
		const shard = document.querySelector('#route-result a');
		return !!shard && document.querySelector('#shard-id').textContent === shard.textContent &&
			document.querySelector('#shard-history').textContent.includes('initial table');
	})()`)

	// Drain n2 behind the confirmation dialog.
	h.fake.reset()
	b.Do("ask to drain n2",
		chromedp.Click(chromedp.CSS(`button[data-action="drain"][data-node="n2"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	text := browsertest.Eval[string](b, `document.querySelector('#confirm-text').textContent`)
	if !strings.Contains(text, "Drain n2: its 16 shards will move to the other nodes") {
		t.Errorf("confirmation says %q", text)
	}
	// The dialog shows the server's plan (a dry run) before anything is done.
	b.WaitFor("the plan in the dialog", `document.querySelector('#plan-report') !== null &&
		document.querySelector('#plan-report').textContent.includes('1 shard changes home')`)
	if calls := h.fake.Calls(); len(calls) != 1 || calls[0] != (call{Op: "drain", Node: "n2", DryRun: true}) {
		t.Fatalf("before confirmation the backend saw %+v, want only the dry run", calls)
	}
	b.Shot("03-confirm-drain.png")
	b.Do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#move-report")))
	if !hasCall(h.fake.Calls(), call{Op: "drain", Node: "n2"}) {
		t.Errorf("Backend.Drain(n2) not called: %+v", h.fake.Calls())
	}
	b.Shot("04-drain-report.png")
	b.Do("close the dialog", chromedp.Click(chromedp.CSS("#confirm-cancel")))
	b.WaitFor("the dialog to close", `!document.querySelector('#confirm').open`)

	bigTable(t, b, h)
	b.MustBeClean()
}

// bigTable loads P = 1024 over 20 nodes through SSE, then times 20 table
// updates inside the page.
func bigTable(t *testing.T, b *browsertest.Browser, h *harness) {
	start := time.Now()
	h.fake.setTable(3, 1024, 20)
	h.fake.emit(shardgate.Event{Type: "table", Data: map[string]any{"version": 3}})
	b.WaitFor("the 1024-shard table",
		`document.querySelectorAll('#partition-map [data-shard]').length === 1024 &&
		 document.querySelectorAll('#partition-map [data-owner="n20"]').length === 51 &&
		 document.querySelectorAll('#nodes tr[data-node]').length === 20`)
	t.Logf("1024 shards / 20 nodes shown %v after the table event", time.Since(start).Round(time.Millisecond))
	b.Shot("05-map-1024-shards-20-nodes.png")

	type timing struct {
		Ms    float64 `json:"ms"`
		Cells int     `json:"cells"`
		Wrong int     `json:"wrong"`
	}
	res := browsertest.Eval[timing](b, `(() => {
		const sg = window.shardgate, base = sg.state.partitions;
		const nodes = sg.state.cluster.nodes.map(n => n.name);
		const t0 = performance.now();
		for (let i = 1; i <= 20; i++) {
			sg.applyPartitions({version: base.version + i, partitions: base.partitions.map(p => ({...p,
				owner: nodes[(p.id + i) % nodes.length], backups: [nodes[(p.id + i + 1) % nodes.length]],
				state: (p.id + i) % 13 === 0 ? 'migrating' : 'stable'}))});
		}
		document.body.getBoundingClientRect(); // include the layout the writes caused
		const ms = performance.now() - t0;
		const cells = document.querySelectorAll('#partition-map .cell');
		let wrong = 0;
		cells.forEach((c, id) => { if (c.dataset.owner !== nodes[(id + 20) % nodes.length]) wrong++; });
		return {ms, cells: cells.length, wrong};
	})()`)
	t.Logf("20 consecutive table updates of 1024 shards took %.1f ms in the page (%.2f ms each)", res.Ms, res.Ms/20)
	if res.Cells != 1024 || res.Wrong != 0 {
		t.Errorf("after 20 updates: %d cells, %d with the wrong owner", res.Cells, res.Wrong)
	}
	// Still responsive: a click is handled and the panel follows.
	b.Do("open shard 1000", chromedp.Click(chromedp.CSS(`#partition-map [data-shard="1000"]`)))
	b.WaitFor("shard 1000 panel", `document.querySelector('#shard-id').textContent === '1000'`)
	b.Shot("06-after-20-updates.png")
}

func hasCall(calls []call, want call) bool {
	for _, c := range calls {
		if c == want {
			return true
		}
	}
	return false
}

// TestBrowserOpenMode: with no token configured the page asks for none and
// works at once.
func TestBrowserOpenMode(t *testing.T) {
	h := newHarnessWith(t, Config{StatsInterval: 250 * time.Millisecond}, newFake(271, 5))
	base := startServer(t, h)
	b := newBrowser(t)
	b.Do("load the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="n5"]`)))
	if browsertest.Eval[bool](b, `!document.querySelector('#login').hidden`) {
		t.Errorf("the token form is shown although the API is open")
	}
	b.WaitFor("271 cells", `document.querySelectorAll('#partition-map [data-owner="n5"]').length === 54`)
	b.WaitFor("the stream to go live", `document.querySelector('#live').textContent === 'live'`)
	b.Press("ask to fail over n3", `button[data-action="failover"][data-node="n3"]`)
	b.Do("the dialog", chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	if text := browsertest.Eval[string](b, `document.querySelector('#confirm-text').textContent`); !strings.Contains(text, "Its 54 shards will be taken over by their backups: n4 (54)") {
		t.Errorf("failover confirmation says %q", text)
	}
	b.WaitFor("the dry-run plan", `document.querySelector('#plan-report') !== null`)
	b.Press("cancel", "#confirm-cancel")
	b.WaitFor("the dialog to close", `!document.querySelector('#confirm').open`)

	// The guards refuse: the dialog says why and offers to force it.
	b.Expect("409 (Conflict) (http://127.0.0.1")
	h.fake.setRefusal("failover n3 refused: only 1 active node would remain; pass force to do it anyway")
	b.Press("ask to fail over n3 again", `button[data-action="failover"][data-node="n3"]`)
	b.Do("the dialog", chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	b.WaitFor("the refusal in the dialog", `document.querySelector('#plan-report') !== null &&
		document.querySelector('#plan-report').textContent.includes('only 1 active node would remain') &&
		document.querySelector('#confirm-ok').textContent === 'Force anyway'`)
	b.Shot("06-refused-failover.png")
	b.Press("force it", "#confirm-ok")
	b.Do("the report", chromedp.WaitVisible(chromedp.CSS("#move-report")))
	if !hasCall(h.fake.Calls(), call{Op: "failover", Node: "n3", Force: true}) {
		t.Errorf("forced failover not called: %+v", h.fake.Calls())
	}
	h.fake.setRefusal("")
	b.Press("close", "#confirm-cancel")
	b.WaitFor("the dialog to close", `!document.querySelector('#confirm').open`)
	b.Press("ask to rebalance", "#rebalance")
	b.WaitFor("the rebalance plan", `document.querySelector('#plan-report') !== null`)
	b.Shot("07-open-mode-271-shards-rebalance.png")
	b.Press("confirm", "#confirm-ok")
	b.Do("the report", chromedp.WaitVisible(chromedp.CSS("#move-report")))
	if !hasCall(h.fake.Calls(), call{Op: "rebalance"}) || hasCall(h.fake.Calls(), call{Op: "failover", Node: "n3"}) {
		t.Errorf("backend calls: %+v", h.fake.Calls())
	}
	b.MustBeClean()
}

// The page keeps up with what changes without a table event, and says so
// when it cannot: a shard's size grows with traffic, a shard's history
// gains the move just made, and the node serving the page dies.
func TestBrowserDashboardKeepsUp(t *testing.T) {
	h := newHarnessWith(t, Config{StatsInterval: 250 * time.Millisecond}, newFake(64, 3))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.srv.Start(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	}
	t.Cleanup(stop)
	b := newBrowser(t)
	b.Do("load the dashboard", chromedp.Navigate("http://"+ln.Addr().String()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="n3"]`)))
	b.WaitFor("the stream to go live", `document.querySelector('#live').textContent === 'live'`)
	b.Do("open shard 5", chromedp.Click(chromedp.CSS(`#partition-map [data-shard="5"]`)))
	b.WaitFor("shard 5 history", `document.querySelector('#shard-history').textContent.includes('initial table')`)

	// Traffic: the same table, a bigger shard.
	h.fake.setSize(5, 4321, 987654)
	b.WaitFor("shard 5's new size in its panel and its cell",
		`document.querySelector('#shard-facts').textContent.includes('4321') &&
		 document.querySelector('#partition-map [data-shard="5"]').title.includes('4321 messages')`)

	// A move of shard 5: a new table, and a new entry in its history.
	h.fake.addMove(shardgate.OwnershipChange{Shard: 5, Version: 2, At: 1700000600000, From: "n3", To: "n2", Reason: "moved by the operator"})
	h.fake.setTable(2, 64, 3)
	h.fake.emit(shardgate.Event{Type: "table", Data: map[string]any{"version": 2}})
	b.WaitFor("the move in shard 5's history", `document.querySelector('#shard-history').textContent.includes('moved by the operator')`)

	// A move's plan names the shard it moves and where to (the fake plans
	// shard 1).
	b.Do("open shard 1", chromedp.Click(chromedp.CSS(`#partition-map [data-shard="1"]`)))
	b.Do("move it to n1", chromedp.SetValue(chromedp.CSS("#move-to"), "n1"), chromedp.Click(chromedp.CSS("#move-shard")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	b.WaitFor("the move's plan", `document.querySelector('#plan-report') !== null &&
		document.querySelector('#plan-report').textContent.includes('Plan of move shard 1 to n1')`)
	b.Press("close", "#confirm-cancel")
	b.WaitFor("the dialog to close", `!document.querySelector('#confirm').open`)

	// The node serving the page dies: what the page shows is marked old.
	if browsertest.Eval[bool](b, `document.body.classList.contains('stale')`) {
		t.Fatal("the page is marked stale while its node answers")
	}
	stop()
	b.WaitFor("the page to say its node does not answer",
		`document.body.classList.contains('stale') && document.querySelector('#banner').textContent.includes('may be out of date')`)
	b.Shot("07-node-gone.png")
}
