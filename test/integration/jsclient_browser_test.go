//go:build browser

package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/browsertest"
	"github.com/shardgate/shardgate/internal/testutil"
)

// chatPage is a web application on its own origin that imports the
// browser client from a node and runs a chat between two users. It exposes
// what it saw on window.__chat for the test to read.
const chatPage = `<!doctype html>
<meta charset="utf-8"><title>chat</title>
<pre id="out"></pre>
<script type="module">
import { Client } from "%[1]s/v1/client.js";
const nodes = %[2]s;
const chat = window.__chat = { got: {}, acked: {}, states: {}, error: null, reconnects: {} };
const log = (s) => document.getElementById("out").append(s + "\n");
function user(name) {
  chat.got[name] = [];
  chat.acked[name] = [];
  const c = new Client({ nodes, user: name, minBackoff: 50, maxBackoff: 1000, callTimeout: 5000 });
  c.on("message", (m) => { chat.got[name].push(m.seq); log(name + " got #" + m.seq + " from " + m.from); });
  c.on("state", (s) => { chat.states[name] = s.connected ? "on " + s.node : "off"; chat.reconnects[name] = c.stats.reconnects; });
  return c;
}
chat.clients = { alice: user("alice"), bob: user("bob") };
chat.send = async (from, to, n) => {
  for (let i = 0; i < n; i++) {
    const r = await chat.clients[from].send(to, from + " says " + i);
    chat.acked[from].push(r.seq);
  }
};
Promise.all([chat.clients.alice.connect(), chat.clients.bob.connect()])
  .then(() => { chat.ready = true; })
  .catch((e) => { chat.error = { message: e.message, closeCode: e.closeCode, fatal: e.fatal }; log("refused: " + e.message); });
</script>`

// TestBrowserClientChat: a page on another origin, listed in
// --allowed-origins, chats through a real 3-node cluster with the browser
// client; the recipient's home is killed mid-conversation and the page
// resumes with nothing lost and nothing doubled. A page on an origin not
// listed is refused and can say why.
// Run it with: go test -tags browser -run BrowserClient -v ./test/integration/
func TestBrowserClientChat(t *testing.T) {
	var nodesJSON, moduleBase string
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, chatPage, moduleBase, nodesJSON)
	}
	listed := httptest.NewServer(http.HandlerFunc(page))
	defer listed.Close()
	unlisted := httptest.NewServer(http.HandlerFunc(page))
	defer unlisted.Close()

	c := newCluster(t, 3, func(cfg *app.Config) { cfg.AllowedOrigins = []string{listed.URL} })
	var urls []string
	for _, s := range c.live() {
		urls = append(urls, `"`+s.PublicURL()+`"`)
	}
	nodesJSON = "[" + strings.Join(urls, ",") + "]"
	moduleBase = c.node("n1").PublicURL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home, err := c.node("n1").Node().Route(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if home.Owner == "n1" { // keep the node serving the module alive
		to := "n2"
		if _, err := c.node("n1").Node().MoveShard(ctx, home.Shard, to); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 30*time.Second, "bob's shard moved off n1", func() bool {
			r, _ := c.node("n1").Node().Route(ctx, "bob")
			return r.Owner == to
		})
		c.waitStable(30 * time.Second)
		home, _ = c.node("n1").Node().Route(ctx, "bob")
	}

	b := browsertest.New(t, browsertest.Options{Step: dashStep, Poll: 50 * time.Millisecond})
	b.Do("load the chat page", chromedp.Navigate(listed.URL+"/"))
	b.WaitFor("both users connected", `window.__chat && window.__chat.ready === true`)
	onNode := browsertest.Eval[string](b, `window.__chat.states.bob`)
	if onNode != "on "+home.Owner {
		t.Fatalf("bob is %q, want connected to his home %s", onNode, home.Owner)
	}

	const n = 40
	browsertest.Eval[bool](b, `(window.__chat.sending = window.__chat.send("alice", "bob", `+fmt.Sprint(n)+`), true)`)
	b.WaitFor("a quarter of the conversation", `window.__chat.acked.alice.length >= `+fmt.Sprint(n/4))
	c.kill(home.Owner)
	t.Logf("killed bob's home %s mid-conversation", home.Owner)
	browsertest.Eval[bool](b, `(window.__chat.replying = window.__chat.send("bob", "alice", 5), true)`)
	b.WaitFor("every message acknowledged", `window.__chat.acked.alice.length === `+fmt.Sprint(n)+` && window.__chat.acked.bob.length === 5`)
	b.WaitFor("bob received them all", `window.__chat.got.bob.length >= `+fmt.Sprint(n))
	b.WaitFor("alice received the replies", `window.__chat.got.alice.length >= 5`)

	got := browsertest.Eval[map[string][]uint64](b, `window.__chat.got`)
	acked := browsertest.Eval[map[string][]uint64](b, `window.__chat.acked`)
	for user, from := range map[string]string{"bob": "alice", "alice": "bob"} {
		inbox := c.inbox(user)
		stored := make([]uint64, len(inbox))
		for i, m := range inbox {
			stored[i] = m.Seq
		}
		if !slices.Equal(got[user], stored) {
			t.Errorf("%s's page received %v, the inbox holds %v: lost, doubled or reordered", user, got[user], stored)
		}
		if !slices.Equal(acked[from], stored) {
			t.Errorf("%s's acknowledged sends %v, %s's inbox %v", from, acked[from], user, stored)
		}
	}
	reconnects := browsertest.Eval[int](b, `window.__chat.reconnects.bob`)
	onNode = browsertest.Eval[string](b, `window.__chat.states.bob`)
	if reconnects < 1 || onNode == "on "+home.Owner {
		t.Errorf("bob reconnected %d times and is %q: the kill never reached the page", reconnects, onNode)
	}

	// The same page on an origin not listed: refused, and the page knows why.
	b.Do("load the page from an unlisted origin", chromedp.Navigate(unlisted.URL+"/"))
	b.WaitFor("the refusal", `window.__chat && window.__chat.error !== null`)
	type chatError struct {
		Message   string `json:"message"`
		CloseCode int    `json:"closeCode"`
		Fatal     bool   `json:"fatal"`
	}
	refusal := browsertest.Eval[chatError](b, `window.__chat.error`)
	if refusal.CloseCode != 4003 || !refusal.Fatal || !strings.Contains(refusal.Message, unlisted.URL) || !strings.Contains(refusal.Message, "not allowed") {
		t.Fatalf("refusal %+v: want close 4003 naming the origin", refusal)
	}
	t.Logf("unlisted origin: %q", refusal.Message)
}
