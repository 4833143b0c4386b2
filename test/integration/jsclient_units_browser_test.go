//go:build browser

package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	jsclient "github.com/shardgate/shardgate/clients/js"
	"github.com/shardgate/shardgate/internal/browsertest"
	"github.com/shardgate/shardgate/internal/testutil"
)

// jsUnitPage runs the browser client against fake nodes inside the page
// (a WebSocket and a fetch of its own), for the behaviours a real cluster
// shows only by chance: batches, a slow handler, resume after a cut, a
// send whose answer is lost, a moved hint, a refusal, resubscription.
const jsUnitPage = `<!doctype html><meta charset="utf-8"><title>units</title>
<script type="module">
import { Client } from "/client.js";

// A fake cluster: nodes by URL, one inbox per key, idempotent sends.
const inbox = {}, ids = {}, attempts = {}, nodes = {}, log = [];
let refuse = 0, loseNextAnswer = false;
// failNext[method]: errors for the next calls of method, one each; close
// also closes the connection with that code once the answer is out.
const failNext = {};
class FakeNode {
  constructor(url) { this.url = url; this.conns = new Set(); nodes[url] = this; }
  deliver(key, m) { for (const ws of this.conns) if (ws.key === key) ws.push({ jsonrpc: "2.0", method: "message", params: m }); }
  cut() { for (const ws of [...this.conns]) ws.end(1006, ""); }
}
function store(to, from, data, id) {
  const k = from + "/" + id;
  if (id && ids[k]) return ids[k];
  const box = (inbox[to] ||= []);
  const m = { seq: box.length + 1, from, data, ts: Date.now() };
  if (id) m.id = id;
  box.push(m);
  if (id) ids[k] = m.seq;
  for (const n of Object.values(nodes)) n.deliver(to, m);
  return m.seq;
}
class FakeWS {
  constructor(url) {
    const u = new URL(url);
    this.node = nodes[u.origin.replace("http", "ws") + u.pathname];
    this.key = u.searchParams.get("user") || (u.searchParams.get("token") || "").split(":")[0];
    this.since = u.searchParams.get("since");
    this.subs = new Set();
    log.push({ node: this.node?.url, since: this.since, key: this.key });
    setTimeout(() => this.open(), 0);
  }
  open() {
    if (this.node?.silent) return; // never opens, and never says so (Node 20's WebSocket on a refused connection)
    if (!this.node) return this.end(1006, "");
    if (refuse) return this.end(refuse, "refused for the test");
    this.node.conns.add(this);
    const box = inbox[this.key] || [];
    this.push({ jsonrpc: "2.0", method: "welcome", params: { key: this.key, node: this.node.url, shard: 1, last_seq: box.length, session: "s" } });
    const replay = box.filter((m) => m.seq > Number(this.since || 0)).map((m) => ({ jsonrpc: "2.0", method: "message", params: m }));
    if (replay.length) this.push(replay); // a batch
  }
  push(frame) { if (!this.closed) { const data = JSON.stringify(frame); setTimeout(() => !this.closed && this.onmessage?.({ data }), 0); } }
  send(text) {
    if (this.node?.muted) return; // a node that vanished: nothing comes back
    const req = JSON.parse(text), p = req.params;
    const fail = failNext[req.method]?.shift();
    if (fail) {
      this.push({ jsonrpc: "2.0", id: req.id, error: { code: fail.code, message: fail.message } });
      if (fail.close) setTimeout(() => this.end(fail.close, fail.message), 5);
      return;
    }
    let result = {};
    switch (req.method) {
      case "send":
        attempts[p.id] = (attempts[p.id] || 0) + 1;
        result = { to: p.to, seq: store(p.to, this.key, p.data, p.id) };
        if (loseNextAnswer) { loseNextAnswer = false; return this.end(1006, ""); }
        break;
      case "history": {
        const all = (inbox[this.key] || []).filter((m) => m.seq > p.since);
        result = { messages: all.slice(0, p.limit || 500), last_seq: (inbox[this.key] || []).length };
        break;
      }
      case "subscribe": this.subs.add(p.topic); break;
    }
    this.push({ jsonrpc: "2.0", id: req.id, result });
  }
  close(code = 1000, reason = "") {
    if (this.node?.silent) { this.closed = true; return; } // no close event either
    this.end(code, reason);
  }
  end(code, reason) {
    if (this.closed) return;
    this.closed = true;
    this.node?.conns.delete(this);
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}
const fakeFetch = async (url) => new Response(JSON.stringify({ ws_url: "ws://a.test/v1/ws" }), { status: 200 });
const A = new FakeNode("ws://a.test/v1/ws"), B = new FakeNode("ws://b.test/v1/ws");
const opts = (user, extra = {}) => ({ nodes: ["http://a.test"], user, WebSocket: FakeWS, fetch: fakeFetch, minBackoff: 1, maxBackoff: 20, callTimeout: 2000, movedDelay: 500, ...extra });
const until = async (what, cond) => {
  for (let i = 0; i < 500; i++) { if (cond()) return; await new Promise((r) => setTimeout(r, 10)); }
  throw new Error("never: " + what);
};
function collect(c) { const got = []; c.on("message", (m) => { got.push(m.seq); }); return got; }

const results = window.__results = {};
async function run(name, f) {
  try { results[name] = { ok: true, ...(await f()) }; } catch (e) { results[name] = { ok: false, error: String(e) }; }
}
await run("batch", async () => {
  for (let i = 0; i < 3; i++) store("u1", "x", i);
  const c = new Client(opts("u1"));
  const got = collect(c);
  const welcome = await c.connect();
  await until("3 messages", () => got.length >= 3);
  c.close();
  return { got, lastSeq: welcome.last_seq };
});
await run("slow handler", async () => {
  const c = new Client(opts("u2", { buffer: 3 }));
  const got = [];
  c.on("message", async (m) => { got.push(m.seq); await new Promise((r) => setTimeout(r, 3)); });
  await c.connect();
  for (let i = 0; i < 30; i++) store("u2", "x", i);
  await until("30 messages", () => got.length >= 30);
  await new Promise((r) => setTimeout(r, 50));
  c.close();
  return { got, historyReads: c.stats.historyReads, connections: c.stats.connections };
});
await run("resume", async () => {
  const c = new Client(opts("u3"));
  const got = collect(c);
  await c.connect();
  for (let i = 0; i < 5; i++) store("u3", "x", i);
  await until("5 messages", () => got.length >= 5);
  A.cut();
  for (let i = 0; i < 5; i++) store("u3", "x", i);
  await until("10 messages", () => got.length >= 10);
  await new Promise((r) => setTimeout(r, 50));
  c.close();
  return { got, sinces: log.filter((l) => l.since !== null).map((l) => l.since), lastSeq: c.lastSeq };
});
await run("send retried", async () => {
  const c = new Client(opts("u4"));
  await c.connect();
  loseNextAnswer = true;
  const r = await c.send("u5", "hello", { id: "retry-me" });
  c.close();
  return { seq: r.seq, attempts: attempts["retry-me"], stored: (inbox.u5 || []).length };
});
await run("moved", async () => {
  const c = new Client(opts("u6"));
  const got = collect(c);
  await c.connect();
  store("u6", "x", 1);
  await until("1 message", () => got.length >= 1);
  for (const ws of A.conns) if (ws.key === "u6") ws.push({ jsonrpc: "2.0", method: "moved", params: { url: B.url, reason: "test" } });
  await until("on b", () => c.welcome?.node === B.url && ![...A.conns].some((ws) => ws.key === "u6"));
  store("u6", "x", 2);
  await until("2 messages", () => got.length >= 2);
  c.close();
  return { got, node: c.welcome.node, since: log.filter((l) => l.node === B.url).map((l) => l.since) };
});
await run("resubscribe", async () => {
  const c = new Client(opts("u7"));
  await c.connect();
  await c.subscribe("news");
  A.cut();
  await until("resubscribed", () => [...A.conns].some((ws) => ws.key === "u7" && ws.subs.has("news")));
  c.close();
  return {};
});
await run("silent node", async () => {
  const C = new FakeNode("ws://c.test/v1/ws");
  const c = new Client(opts("u9", { nodes: ["http://c.test"], fetch: async () => new Response(JSON.stringify({ ws_url: C.url })), idleTimeout: 100, callTimeout: 200 }));
  await c.connect();
  C.muted = true;
  const before = log.filter((l) => l.node === C.url).length;
  await until("replaced", () => c.stats.reconnects >= 1);
  C.muted = false;
  await until("connected again", () => c.conn !== null);
  c.close();
  return { connections: log.filter((l) => l.node === C.url).length - before };
});
await run("refused", async () => {
  refuse = 4001;
  const c = new Client(opts("u8"));
  try { await c.connect(); return { connected: true }; } catch (e) { return { fatal: e.fatal, closeCode: e.closeCode, message: e.message }; }
  finally { refuse = 0; }
});
await run("resubscribe rate limited", async () => {
  const c = new Client(opts("u11"));
  await c.connect();
  await c.subscribe("news");
  failNext.subscribe = [{ code: 1002, message: "rate limited" }, { code: 1002, message: "rate limited" }];
  const before = log.filter((l) => l.key === "u11").length;
  A.cut();
  await until("resubscribed", () => [...A.conns].some((ws) => ws.key === "u11" && ws.subs.has("news")));
  const topics = [...c.topics];
  c.close();
  return { topics, connections: log.filter((l) => l.key === "u11").length - before };
});
await run("token expired", async () => {
  let tokens = 0;
  const c = new Client(opts(undefined, { user: undefined, tokenProvider: async () => "u12:" + (++tokens) }));
  await c.connect();
  failNext.send = [{ code: 1001, message: "token expired: reconnect with a new one", close: 4001 }];
  const r = await c.send("u13", "hi", { id: "after-expiry" });
  c.close();
  return { seq: r.seq, tokens, stored: (inbox.u13 || []).length };
});
await run("never closed", async () => {
  const Z = new FakeNode("ws://z.test/v1/ws");
  Z.silent = true;
  const c = new Client(opts("u14", { nodes: ["http://z.test"], fetch: async () => new Response(JSON.stringify({ ws_url: Z.url })), callTimeout: 100 }));
  const connected = c.connect();
  await new Promise((r) => setTimeout(r, 300));
  Z.silent = false;
  await connected;
  const node = c.welcome.node;
  c.close();
  return { node };
});
await run("sleeps leave no listeners", async () => {
  const c = new Client(opts("u15"));
  let listeners = 0;
  const sig = c.abort.signal, add = sig.addEventListener.bind(sig), remove = sig.removeEventListener.bind(sig);
  sig.addEventListener = (...a) => { if (a[0] === "abort") listeners++; add(...a); };
  sig.removeEventListener = (...a) => { if (a[0] === "abort") listeners--; remove(...a); };
  await c.connect();
  const before = listeners;
  for (let i = 0; i < 30; i++) {
    failNext.send = [{ code: 1002, message: "rate limited" }];
    await c.send("u16", i);
  }
  const after = listeners;
  c.close();
  return { leaked: after - before };
});
window.__done = true;
</script>`

// TestBrowserClientUnits checks the browser client's behaviours one by one
// in headless Chromium, against fake nodes inside the page.
func TestBrowserClientUnits(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/client.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(jsclient.Module)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(jsUnitPage))
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	b := browsertest.New(t, browsertest.Options{Step: dashStep})
	b.Do("load the unit page", chromedp.Navigate(hs.URL+"/"))
	testutil.EventuallyExplained(t, 30*time.Second, "the scenarios to finish", func() string {
		if browsertest.Eval[bool](b, `window.__done === true`) {
			return ""
		}
		return "so far: " + browsertest.Eval[string](b, `JSON.stringify(window.__results || {})`)
	})
	raw := browsertest.Eval[map[string]json.RawMessage](b, `window.__results`)
	type result struct {
		OK          bool     `json:"ok"`
		Error       string   `json:"error"`
		Got         []int    `json:"got"`
		HistoryRead int      `json:"historyReads"`
		Connections int      `json:"connections"`
		Sinces      []string `json:"sinces"`
		Since       []string `json:"since"`
		LastSeq     int      `json:"lastSeq"`
		Seq         int      `json:"seq"`
		Attempts    int      `json:"attempts"`
		Stored      int      `json:"stored"`
		Node        string   `json:"node"`
		Fatal       bool     `json:"fatal"`
		CloseCode   int      `json:"closeCode"`
		Topics      []string `json:"topics"`
		Tokens      int      `json:"tokens"`
		Leaked      *int     `json:"leaked"`
	}
	res := map[string]result{}
	for name, r := range raw {
		var v result
		json.Unmarshal(r, &v)
		res[name] = v
		if !v.OK {
			t.Errorf("%s: %s", name, v.Error)
		}
	}
	seqs := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	}
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %+v", name, res[name])
		}
	}
	check("batch", slices.Equal(res["batch"].Got, seqs(3)) && res["batch"].LastSeq == 3) // connect resolves with the welcome
	check("slow handler", slices.Equal(res["slow handler"].Got, seqs(30)) && res["slow handler"].HistoryRead > 0 && res["slow handler"].Connections == 1)
	check("resume", slices.Equal(res["resume"].Got, seqs(10)) && len(res["resume"].Sinces) > 0 && res["resume"].Sinces[len(res["resume"].Sinces)-1] == "5" && res["resume"].LastSeq == 10)
	check("send retried", res["send retried"].Seq == 1 && res["send retried"].Attempts == 2 && res["send retried"].Stored == 1)
	check("moved", slices.Equal(res["moved"].Got, seqs(2)) && res["moved"].Node == "ws://b.test/v1/ws" && len(res["moved"].Since) == 1 && res["moved"].Since[0] == "1")
	check("refused", res["refused"].Fatal && res["refused"].CloseCode == 4001)
	check("silent node", res["silent node"].Connections >= 1)
	// One new connection: the refused subscriptions were tried again on it.
	check("resubscribe rate limited", slices.Equal(res["resubscribe rate limited"].Topics, []string{"news"}) && res["resubscribe rate limited"].Connections == 1)
	check("token expired", res["token expired"].Seq == 1 && res["token expired"].Stored == 1 && res["token expired"].Tokens >= 2)
	check("never closed", res["never closed"].Node == "ws://z.test/v1/ws")
	check("sleeps leave no listeners", res["sleeps leave no listeners"].Leaked != nil && *res["sleeps leave no listeners"].Leaked == 0)
	if _, ok := res["resubscribe"]; !ok {
		t.Error("resubscribe did not run")
	}
}
