package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
)

// nested returns a JSON value of depth arrays, one inside the other.
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// rawConn is a client connection that writes frames byte for byte, for
// input the SDK would never produce.
type rawConn struct {
	t  testing.TB
	ws *websocket.Conn
}

func dialRaw(t testing.TB, c *tcluster, on, key string) *rawConn {
	t.Helper()
	r, _ := dialRawURL(t, c.node(on).WSURL()+"?user="+key)
	return r
}

// dialRawURL connects to a full /v1/ws URL and returns the welcome's params.
func dialRawURL(t testing.TB, url string) (*rawConn, map[string]any) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	r := &rawConn{t: t, ws: ws}
	m := r.read()
	if m["method"] != "welcome" {
		t.Fatalf("first frame %v", m)
	}
	p, _ := m["params"].(map[string]any)
	return r, p
}

func (r *rawConn) read() map[string]any {
	r.t.Helper()
	for {
		_ = r.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, b, err := r.ws.ReadMessage()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		if bytes.HasPrefix(b, []byte("[")) {
			continue // a batch of message notifications
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("frame %.200s: %v", b, err)
		}
		if m["method"] == "message" {
			continue
		}
		return m
	}
}

// call writes one frame and returns the response's error code, 0 on success.
func (r *rawConn) call(frame string) (code float64, msg string) {
	r.t.Helper()
	if err := r.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		r.t.Fatal(err)
	}
	m := r.read()
	if e, ok := m["error"].(map[string]any); ok {
		return e["code"].(float64), e["message"].(string)
	}
	return 0, ""
}

// One deeply nested message must not poison its key: it is refused where
// it enters, on a node that is not the key's home and on the home itself,
// through the client protocol and the admin API; afterwards the key still
// takes sends, its inbox is readable through every node, and its shard
// still moves.
func TestDeepNestingCannotPoisonAKey(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	victim := keyHomedOn(t, c, "n3", "victim")
	sendFrame := func(id int, data string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":%q,"data":%s}}`, id, victim, data)
	}
	// 9,998 arrays pass Go's decoder limit (10,000) in the client frame;
	// the node-link frame around them is deeper.
	poison := nested(9998)
	for i, on := range []string{"n1", "n3"} { // not the home, then the home
		raw := dialRaw(t, c, on, fmt.Sprintf("mallory%d", i))
		code, msg := raw.call(sendFrame(1, poison))
		if code != -32600 && code != -32602 {
			t.Fatalf("deep send through %s: code %v %q, want -32600 or -32602", on, code, msg)
		}
		if !strings.Contains(msg, "deep") {
			t.Errorf("deep send through %s: message %q does not say what is wrong", on, msg)
		}
		// At the limit is fine, one more level is not.
		if code, msg := raw.call(sendFrame(2, nested(32))); code != 0 {
			t.Fatalf("send nested 32 deep through %s: %v %s", on, code, msg)
		}
		if code, _ := raw.call(sendFrame(3, nested(33))); code != -32600 && code != -32602 {
			t.Fatalf("send nested 33 deep through %s: code %v", on, code)
		}
	}
	// The admin API refuses it with 400 on every node.
	for _, on := range []string{"n1", "n3"} {
		body := `{"data":` + poison + `}`
		resp, err := http.Post(c.node(on).AdminURL()+"/v1/users/"+victim+"/messages", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error.Message, "deep") {
			t.Fatalf("admin deep send through %s: %d %q, want 400 naming the depth", on, resp.StatusCode, e.Error.Message)
		}
	}

	// The key keeps taking sends, through any node.
	alice := c.dial("n1", "alice", nil)
	send := func(via string) {
		t.Helper()
		cl := alice
		if via != "n1" {
			cl = c.dial(via, "alice-"+via, nil)
		}
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		if _, err := cl.Send(sctx, victim, "still fine", ""); err != nil {
			t.Fatalf("send to %s through %s after the poison attempt: %v", victim, via, err)
		}
	}
	send("n1")
	send("n3")
	// Its inbox is readable through every node: the two messages nested 32
	// deep and the two plain ones.
	for _, s := range c.live() {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		h, err := s.Node().History(rctx, victim, 0, 100)
		rcancel()
		if err != nil || len(h.Messages) != 4 || h.LastSeq != 4 {
			t.Fatalf("history of %s through %s: %d messages, last %d, %v", victim, s.Name(), len(h.Messages), h.LastSeq, err)
		}
	}
	// Its shard still moves, and the key takes sends at its new home.
	api := c.node("n1").Node()
	r, err := api.Route(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.MoveShard(ctx, r.Shard, "n2"); err != nil {
		t.Fatalf("move shard %d: %v", r.Shard, err)
	}
	testutil.Eventually(t, 30*time.Second, "the shard moved to n2", func() bool {
		r2, err := api.Route(ctx, victim)
		return err == nil && r2.Owner == "n2"
	})
	c.waitStable(30 * time.Second)
	send("n2")
	if got := c.inbox(victim); len(got) != 5 {
		t.Fatalf("after the move the inbox has %d messages, want 5", len(got))
	}
}

// The largest input a node accepts also fits every internal frame: a body
// just under the admin limit made of characters the node links escape six
// times over (< becomes \u003c), sent several times through a node that is
// not the key's home, replicates, reads back through every node page by
// page, and leaves the key taking sends.
func TestLargestInputFitsInternalFrames(t *testing.T) {
	t.Parallel()
	// Each send carries 6 MiB over two links and into two stores: under
	// the race detector on a busy machine that can take longer than the
	// default 2 s write timeout, which this test is not about.
	c := newCluster(t, 3, func(cfg *app.Config) { cfg.WriteTimeout, cfg.ReplicateTimeout = 20*time.Second, 20*time.Second })
	key := keyHomedOn(t, c, "n3", "big")
	data := `"` + strings.Repeat("<", 1<<20-64) + `"`
	const n = 4
	for i := 0; i < n; i++ {
		resp, err := http.Post(c.node("n1").AdminURL()+"/v1/users/"+key+"/messages", "application/json",
			strings.NewReader(`{"data":`+data+`}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("send %d of a 1 MiB body through n1: %d", i, resp.StatusCode)
		}
	}
	for _, s := range c.live() {
		var got []uint64
		for since := uint64(0); since < n; {
			// A page of 4 MiB crosses a link as more than 20 MiB of JSON
			// (every '<' escaped), which under the race detector on a busy
			// machine can outlast the 3 s read budget: 1003 says retry,
			// as a client would.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			h, err := s.Node().History(ctx, key, since, 500)
			for shardgate.KindOf(err) == shardgate.KindUnavailable && ctx.Err() == nil {
				h, err = s.Node().History(ctx, key, since, 500)
			}
			cancel()
			if err != nil || len(h.Messages) == 0 {
				t.Fatalf("history of %s through %s since %d: %d messages, %v", key, s.Name(), since, len(h.Messages), err)
			}
			for _, m := range h.Messages {
				if len(m.Data) < 1<<20-64 {
					t.Fatalf("message %d read back with %d bytes", m.Seq, len(m.Data))
				}
				got = append(got, m.Seq)
			}
			since = got[len(got)-1]
		}
		if len(got) != n {
			t.Fatalf("through %s: seqs %v", s.Name(), got)
		}
	}
	cl := c.dial("n2", "sender", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := cl.Send(ctx, key, "small", ""); err != nil || res.Seq != n+1 {
		t.Fatalf("send after the large ones: %+v %v", res, err)
	}
}
