//go:build browser

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
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
	if !d.b.eval(`window.__sameDocument === true`, nil) {
		t.Errorf("the page reloaded at some point")
	}
	d.b.mustBeClean()
}

// dashRun is one run of the dashboard test: a cluster and a page on n1.
type dashRun struct {
	t     *testing.T
	c     *tcluster
	b     *dashBrowser
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
	b := newDashBrowser(t)
	d.b = b
	b.do("load the dashboard", chromedp.Navigate(d.c.node("n1").AdminURL()+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do("log in",
		chromedp.SendKeys(chromedp.CSS("#token"), dashToken),
		chromedp.Click(chromedp.CSS("#login-btn")))
	b.waitFor("three node rows", `document.querySelectorAll('#nodes tbody tr[data-node]').length === 3`)
	b.waitFor("the stream to go live", `document.querySelector('#live').textContent === 'live'`)
	b.waitFor("64 cells", `document.querySelectorAll('#partition-map [data-shard]').length === 64`)
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
	})()`, nil)
	b.matchEngine(d.c, "the 3-node table")
	if got := b.text("#coordinator"); got != "n1" {
		t.Errorf("coordinator shown as %q, want n1", got)
	}
	d.phase("page shows 3 nodes, 64 shards")
	b.shot("10-cluster-3-nodes.png")
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
	b.waitFor("n4 in the node list and the map",
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
	if n := b.count(`#nodes tbody tr[data-node]`); n != 4 {
		t.Errorf("node rows = %d, want 4", n)
	}
	if !b.eval(`window.__sameDocument === true`, nil) {
		t.Fatalf("the page reloaded to show the new node")
	}
	b.waitFor("the join in the event log", `window.__events.some(e => e.includes('name=n4 event=join'))`)
	// Every node re-gossips its metadata on each table version; the log
	// shows only member events that change something.
	if b.eval(`window.__events.some(e => e.includes('name=n2 event=update state=active'))`, nil) {
		t.Errorf("the event log lists routine metadata updates of n2")
	}
	t.Logf("%d of 64 cells changed owner; most cells marked migrating at once: %d", changed, b.seen("migrating"))
	d.phase("page matches the 4-node table")

	b.waitFor("20 s of chart samples of 4 nodes", `window.shardgate.state.samples.size === 4 &&
		[...window.shardgate.state.samples.values()].every(s => s.length && Date.now() - s[0][0] > 20000)`)
	// The route box and the shard panel, answered by the real engine.
	route, err := c.node("n1").Node().Route(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.do("look up alice",
		chromedp.SendKeys(chromedp.CSS("#route-key"), "alice"),
		chromedp.Click(chromedp.CSS("#route-form button")))
	b.waitFor("alice's route and shard history", fmt.Sprintf(
		`document.querySelector('#route-result').textContent.includes('home%s') &&
		 document.querySelector('#shard-id').textContent === '%d' &&
		 document.querySelectorAll('#shard-history li:not(.muted)').length > 0`, route.Owner, route.Shard))
	b.shot("11-cluster-4-nodes.png")
	b.capture("dashboard-1280x800.png")
}

// drainFromPage drains a node through its button and confirmation, then
// checks through the engine and the page that it holds nothing.
func (d *dashRun) drainFromPage(name string) {
	t, c, b := d.t, d.c, d.b
	drained := c.node(name)
	b.do("ask to drain "+name,
		chromedp.Click(chromedp.CSS(`button[data-action="drain"][data-node="`+name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	if text := b.text("#confirm-text"); !strings.Contains(text, "Drain "+name+": its ") {
		t.Errorf("confirmation says %q", text)
	}
	b.shot("12-confirm-drain.png")
	confirmed := time.Now()
	b.do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#move-report")))
	// The engine reports a drain's moves without destinations: the report
	// must still read well.
	if report := b.text("#move-report"); !strings.Contains(report, name) || strings.Contains(report, "→ (") {
		t.Errorf("drain report reads %q", report)
	}
	b.shot("13-drain-started.png")
	b.do("close the dialog", chromedp.Click(chromedp.CSS("#confirm-cancel")))
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
	b.waitFor("no shard on "+name+" in the page", fmt.Sprintf(
		`document.querySelectorAll('#partition-map [data-owner="%s"]').length === 0 &&
		 [...document.querySelectorAll('#partition-map .cell')].every(c => !c.dataset.backups.split(',').includes('%[1]s'))`, name))
	// The row goes, or stays with nothing owned and no stale load.
	b.waitFor(name+" gone from the node list, or shown with nothing", fmt.Sprintf(
		`(() => {
			const r = document.querySelector('#nodes tr[data-node="%s"]');
			if (!r) return true;
			const td = r.querySelectorAll('td'), st = r.querySelector('.state').textContent;
			return td[3].textContent === '0' && td[4].textContent === '0' && (st === 'draining' || td[5].textContent === '–');
		})()`, name))
	c.waitStable(30 * time.Second)
	b.matchEngine(c, "the table after the drain")
	d.phase("page and engine agree, " + name + " empty")
	b.shot("14-after-drain.png")
}

// failNode kills a node. Its shards lack copies only until the failover's
// copies are done (about 100 ms here, with small shards): too short for the
// page's coalesced re-reads to catch every time. So the engine's answer
// from that window is also recorded and replayed into the page.
func (d *dashRun) failNode(name string) {
	t, c, b := d.t, d.c, d.b
	b.eval(`(window.__seen = {migrating: 0, under: 0, orphan: 0}, true)`, nil)
	rec := recordUnderReplicated(t, c.node("n1").AdminURL())
	c.kill(name)
	b.waitFor(name+" failed in the event log", `window.__events.some(e => e.includes('name=`+name+` event=failed'))`)
	b.waitFor(name+" shown dead or gone", `(() => {
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
	b.waitFor("no shard marked under-replicated or migrating",
		`document.querySelectorAll('#partition-map .cell.under, #partition-map .cell.migrating').length === 0`)
	// The route box answered before all this follows the table.
	r, err := c.node("n1").Node().Route(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor("the route of alice in the current table", fmt.Sprintf(
		`(t => t.includes('home%s') && t.includes('backups%s') && t.includes('tablev%d'))(document.querySelector('#route-result').textContent)`,
		r.Owner, strings.Join(r.Backups, ", "), r.Version))
	d.phase("page and engine agree after failover")
	b.shot("15-after-failover.png")
}

// replayUnderReplicated shows the page a table the engine answered while
// shards lacked copies, and checks every such shard is marked.
func replayUnderReplicated(t *testing.T, b *dashBrowser, rec recorded) {
	t.Helper()
	if rec.partitions == nil {
		t.Fatal("the engine never answered /v1/partitions with an under-replicated shard after the kill")
	}
	var pv shardgate.PartitionsView
	var cv shardgate.ClusterView
	if err := json.Unmarshal(rec.partitions, &pv); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec.cluster, &cv); err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, n := range cv.Nodes {
		gone[n.Name] = n.State == shardgate.StateDead || n.State == shardgate.StateLeft
	}
	under, pending, orphan, first := 0, 0, 0, 0
	for _, p := range pv.Partitions {
		if gone[p.Owner] {
			orphan++
		}
		if p.UnderReplicated {
			if under == 0 {
				first = p.ID
			}
			under++
		}
		if len(p.Pending) > 0 {
			pending++
		}
	}
	if under == 0 {
		t.Fatalf("the recorded table v%d has no under-replicated shard", pv.Version)
	}
	var got struct {
		Under     int    `json:"under"`
		Migrating int    `json:"migrating"`
		Orphan    int    `json:"orphan"`
		Title     string `json:"title"`
		Summary   string `json:"summary"`
	}
	b.eval(`(() => {
		window.shardgate.applyCluster(`+string(rec.cluster)+`, false);
		window.shardgate.applyPartitions(`+string(rec.partitions)+`);
		const map = document.querySelector('#partition-map');
		return {under: map.querySelectorAll('.cell.under').length,
			migrating: map.querySelectorAll('.cell.migrating').length,
			orphan: map.querySelectorAll('.cell.orphan').length,
			title: map.querySelector('[data-shard="`+strconv.Itoa(first)+`"]').title,
			summary: document.querySelector('#map-summary').textContent};
	})()`, &got)
	t.Logf("replayed table v%d: the engine had %d shards under-replicated, %d copying, %d with a dead home; the page marked %d, %d, %d",
		pv.Version, under, pending, orphan, got.Under, got.Migrating, got.Orphan)
	if got.Under != under || got.Migrating != pending || got.Orphan != orphan {
		t.Errorf("the page marks %d under-replicated, %d migrating and %d orphaned shards, the engine said %d, %d and %d",
			got.Under, got.Migrating, got.Orphan, under, pending, orphan)
	}
	if !strings.Contains(got.Title, "UNDER-REPLICATED") {
		t.Errorf("shard %d's tooltip does not say it is under-replicated: %q", first, got.Title)
	}
	want := fmt.Sprintf("%d shards · %d migrating · %d under-replicated", len(pv.Partitions), pending, under)
	if got.Summary != want {
		t.Errorf("map summary %q, want %q", got.Summary, want)
	}
}

// underRecorder polls a node's /v1/cluster and /v1/partitions and keeps
// the pair of answers with the most shards under-replicated or copying.
type underRecorder struct {
	adminURL string
	hc       *http.Client
	quit     chan struct{}
	done     chan struct{}
	best     recorded
}

// recorded is the raw JSON of two admin answers taken together.
type recorded struct{ cluster, partitions []byte }

func recordUnderReplicated(t *testing.T, adminURL string) *underRecorder {
	r := &underRecorder{adminURL: adminURL, hc: &http.Client{Timeout: 2 * time.Second},
		quit: make(chan struct{}), done: make(chan struct{})}
	most := 0
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
			cv, pb := r.get("/v1/cluster"), r.get("/v1/partitions")
			var pv shardgate.PartitionsView
			if cv == nil || pb == nil || json.Unmarshal(pb, &pv) != nil {
				continue
			}
			n := 0 // the most under-replicated, then the most copying
			for _, p := range pv.Partitions {
				if p.UnderReplicated {
					n += 1000
				}
				if len(p.Pending) > 0 {
					n++
				}
			}
			if n > most {
				most, r.best = n, recorded{cluster: cv, partitions: pb}
			}
		}
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *underRecorder) get(path string) []byte {
	req, err := http.NewRequest(http.MethodGet, r.adminURL+path, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+dashToken)
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return body
}

// stop ends the polling (it may be called twice) and returns what it kept.
func (r *underRecorder) stop() recorded {
	select {
	case <-r.quit:
	default:
		close(r.quit)
	}
	<-r.done
	return r.best
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

// dashBrowser is one headless Chromium tab that records every console
// error, uncaught exception and browser log error of the session.
type dashBrowser struct {
	t     *testing.T
	ctx   context.Context
	shots string

	mu       sync.Mutex
	problems []string
}

func newDashBrowser(t *testing.T) *dashBrowser {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr != nil {
			t.Fatal("chromium is not installed (apt-get install -y chromium): the dashboard must be tested in a real browser")
		}
		exe = "/usr/bin/chromium"
	}
	shots := os.Getenv("SHARDGATE_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first step starts the browser and must carry no timeout, which
	// would end the browser with it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	b := &dashBrowser{t: t, ctx: ctx, shots: shots}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, m.String()+" ("+m.URL+")")
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		<-done
	})
	return b
}

func (b *dashBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashStep)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates expr and decodes its value into out (nil: a boolean is
// expected and returned).
func (b *dashBrowser) eval(expr string, out any) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashStep)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	var ok bool
	if out == nil {
		out = &ok
	}
	if err := json.Unmarshal(raw, out); err != nil {
		b.t.Fatalf("decoding the value of %s: %v (%s)", expr, err, raw)
	}
	return ok
}

func (b *dashBrowser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(`document.querySelector(`+jsString(sel)+`).textContent`, &s)
	return s
}

func (b *dashBrowser) count(sel string) int {
	b.t.Helper()
	var n int
	b.eval(`document.querySelectorAll(`+jsString(sel)+`).length`, &n)
	return n
}

func (b *dashBrowser) seen(what string) int {
	b.t.Helper()
	var n int
	b.eval(`window.__seen.`+what, &n)
	return n
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// waitFor polls a JavaScript condition in the page.
func (b *dashBrowser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashStep)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(dashStep),
		chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
			b.t.Fatalf("timed out waiting for %s (%s)", what, expr)
		}
		b.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// cellView is what one map cell shows: its home and backups.
type cellView struct {
	Owner   string `json:"owner"`
	Backups string `json:"backups"`
}

func (b *dashBrowser) cells() []cellView {
	b.t.Helper()
	var out []cellView
	b.eval(`[...document.querySelectorAll('#partition-map .cell')].map(c => ({owner: c.dataset.owner, backups: c.dataset.backups}))`, &out)
	return out
}

func (b *dashBrowser) owners() []string {
	var out []string
	for _, c := range b.cells() {
		out = append(out, c.Owner)
	}
	return out
}

// matchEngine waits until every cell shows the owner and backups the
// engine of n1 has for its shard.
func (b *dashBrowser) matchEngine(c *tcluster, what string) {
	b.t.Helper()
	deadline := time.Now().Add(dashStep)
	var diff string
	for time.Now().Before(deadline) {
		pv, err := c.node("n1").Node().Partitions(context.Background())
		if err != nil {
			b.t.Fatal(err)
		}
		cells := b.cells()
		diff = ""
		if len(cells) != len(pv.Partitions) {
			diff = fmt.Sprintf("%d cells for %d shards", len(cells), len(pv.Partitions))
		}
		for _, p := range pv.Partitions {
			if diff != "" {
				break
			}
			want := cellView{Owner: p.Owner, Backups: strings.Join(p.Backups, ",")}
			if cells[p.ID] != want {
				diff = fmt.Sprintf("shard %d shows %+v, the engine has %+v", p.ID, cells[p.ID], want)
			}
		}
		if diff == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("the page never showed %s: %s", what, diff)
}

// shot saves a full-page PNG.
func (b *dashBrowser) shot(name string) {
	b.t.Helper()
	b.save(name, chromedp.FullScreenshot(100))
}

// capture saves what a 1280x800 screen shows.
func (b *dashBrowser) capture(name string) {
	b.t.Helper()
	b.save(name, chromedp.CaptureScreenshot())
}

func (b *dashBrowser) save(name string, a chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashStep)
	defer cancel()
	png, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// mustBeClean fails on any console error or exception so far.
func (b *dashBrowser) mustBeClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Fatalf("the page reported %d console errors or exceptions:\n%s", len(b.problems), strings.Join(b.problems, "\n"))
	}
}
