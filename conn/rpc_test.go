package conn

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

func TestWelcomeIsFirstFrame(t *testing.T) {
	h := newHarness(t, nil)
	h.be.storeN("alice", 3)
	_, w := h.raw(t, "alice")
	if w["method"] != "welcome" {
		t.Fatalf("first frame %v, want a welcome", w)
	}
	p := w["params"].(map[string]any)
	if p["key"] != "alice" || p["node"] != "n1" || p["shard"] != 7.0 || p["last_seq"] != 3.0 || p["session"] == "" {
		t.Fatalf("welcome params %v", p)
	}
	if _, hasID := w["id"]; hasID {
		t.Fatal("welcome must be a notification, without id")
	}
}

func TestRoundTrips(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.dial(t, "alice", client.Options{})
	bob := h.dial(t, "bob", client.Options{})
	ctx := ctxT(t)

	res, err := alice.Send(ctx, "bob", map[string]string{"text": "hi"}, "m1")
	if err != nil || res.To != "bob" || res.Seq != 1 {
		t.Fatalf("send = %+v, %v", res, err)
	}
	again, err := alice.Send(ctx, "bob", map[string]string{"text": "hi"}, "m1")
	if err != nil || again != res {
		t.Fatalf("idempotent retry = %+v, %v; want %+v", again, err, res)
	}
	m := <-bob.Messages()
	if m.Seq != 1 || m.From != "alice" || string(m.Data) != `{"text":"hi"}` || m.ID != "m1" {
		t.Fatalf("bob got %+v", m)
	}

	hist, err := bob.History(ctx, 0, 10)
	if err != nil || len(hist.Messages) != 1 || hist.LastSeq != 1 {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if empty, err := bob.History(ctx, 1, 0); err != nil || empty.Messages == nil || len(empty.Messages) != 0 {
		t.Fatalf("empty history = %+v, %v; want [] messages", empty, err)
	}
	if err := bob.Ack(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if cur, _ := h.be.Cursor(ctx, "bob"); cur != 1 {
		t.Fatalf("cursor %d, want 1", cur)
	}

	pres, err := alice.Presence(ctx, "bob", "carol")
	if err != nil || !pres["bob"].Online || pres["bob"].Connections != 1 || pres["carol"].Online {
		t.Fatalf("presence = %+v, %v", pres, err)
	}

	if err := bob.Subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	if !h.be.interested("news") {
		t.Fatal("first subscriber did not register interest")
	}
	n, err := alice.Publish(ctx, "news", "extra")
	if err != nil || n != 1 {
		t.Fatalf("publish = %d, %v", n, err)
	}
	p := <-bob.Publications()
	if p.Topic != "news" || p.From != "alice" || string(p.Data) != `"extra"` {
		t.Fatalf("publication %+v", p)
	}
	if err := bob.Unsubscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	if h.be.interested("news") {
		t.Fatal("last unsubscribe did not drop interest")
	}
	if got := h.srv.DeliverPublication(shardgate.Publication{Topic: "news"}); got != 0 {
		t.Fatalf("publication reached %d after unsubscribe", got)
	}
}

func TestMovedHint(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial(t, "alice", client.Options{})
	h.srv.Moved("alice", "ws://n2/v1/ws", "rebalance")
	select {
	case hint := <-c.Moved():
		if hint.URL != "ws://n2/v1/ws" || hint.Reason != "rebalance" {
			t.Fatalf("hint %+v", hint)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no moved hint")
	}
	if _, err := c.Presence(ctxT(t), "alice"); err != nil {
		t.Fatalf("connection must keep working after moved: %v", err)
	}
}

func TestProtocolErrors(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.raw(t, "alice")
	long := strings.Repeat("k", shardgate.MaxKeyBytes+1)
	cases := []struct {
		name, frame string
		code        int
		id          any
	}{
		{"malformed", `{"jsonrpc":"2.0","id":1,"method":`, -32700, nil},
		{"not an object", `[1,2]`, -32600, nil},
		{"missing id", `{"jsonrpc":"2.0","method":"presence","params":{"keys":["a"]}}`, -32600, nil},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"presence"}`, -32600, nil},
		{"bad version", `{"jsonrpc":"1.0","id":"v","method":"presence"}`, -32600, "v"},
		{"no method", `{"jsonrpc":"2.0","id":2}`, -32600, 2.0},
		{"unknown method", `{"jsonrpc":"2.0","id":"x-1","method":"teleport","params":{}}`, -32601, "x-1"},
		{"no params", `{"jsonrpc":"2.0","id":3,"method":"send"}`, -32602, 3.0},
		{"params not object", `{"jsonrpc":"2.0","id":4,"method":"send","params":[1]}`, -32602, 4.0},
		{"missing to", `{"jsonrpc":"2.0","id":5,"method":"send","params":{"data":1}}`, -32602, 5.0},
		{"bad key", `{"jsonrpc":"2.0","id":6,"method":"send","params":{"to":"` + long + `","data":1}}`, -32602, 6.0},
		{"data absent", `{"jsonrpc":"2.0","id":7,"method":"send","params":{"to":"bob"}}`, -32602, 7.0},
		{"wrong type", `{"jsonrpc":"2.0","id":8,"method":"ack","params":{"seq":"one"}}`, -32602, 8.0},
		{"negative seq", `{"jsonrpc":"2.0","id":9,"method":"ack","params":{"seq":-1}}`, -32602, 9.0},
		{"seq missing", `{"jsonrpc":"2.0","id":10,"method":"ack","params":{}}`, -32602, 10.0},
		{"bad limit", `{"jsonrpc":"2.0","id":11,"method":"history","params":{"since":0,"limit":0}}`, -32602, 11.0},
		{"no keys", `{"jsonrpc":"2.0","id":12,"method":"presence","params":{"keys":[]}}`, -32602, 12.0},
		{"empty topic", `{"jsonrpc":"2.0","id":13,"method":"subscribe","params":{"topic":""}}`, -32602, 13.0},
	}
	for _, tc := range cases {
		resp := rpc(t, ws, tc.frame)
		if got := errCode(resp); got != tc.code {
			t.Errorf("%s: code %d, want %d (%v)", tc.name, got, tc.code, resp)
		}
		if resp["id"] != tc.id {
			t.Errorf("%s: id %#v, want %#v", tc.name, resp["id"], tc.id)
		}
		if msg, _ := resp["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s: error without a message", tc.name)
		}
	}
	// The connection survived all of that and still answers.
	resp := rpc(t, ws, `{"jsonrpc":"2.0","id":1.50,"method":"presence","params":{"keys":["alice"]}}`)
	if errCode(resp) != 0 || resp["result"] == nil {
		t.Fatalf("after errors: %v", resp)
	}
	ws.SetReadDeadline(time.Now().Add(time.Second))
	ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1.50,"method":"presence","params":{"keys":["a"]}}`))
	_, raw, _ := ws.ReadMessage()
	if !strings.Contains(string(raw), `"id":1.50`) {
		t.Fatalf("id must be echoed byte for byte: %s", raw)
	}
}

func TestForbidden(t *testing.T) {
	h := newHarness(t, nil)
	tok := mustToken(t, "alice", []string{"bob", "team/*"}, []string{"public/*"}, nil)
	c := h.dial(t, "alice", client.Options{Token: tok})
	ctx := ctxT(t)
	if _, err := c.Send(ctx, "team/x", 1, ""); err != nil {
		t.Fatalf("send inside the claim: %v", err)
	}
	for _, call := range []struct {
		name string
		err  error
	}{
		{"send outside send claim", func() error { _, err := c.Send(ctx, "carol", 1, ""); return err }()},
		{"send two levels deep", func() error { _, err := c.Send(ctx, "team/x/y", 1, ""); return err }()},
		{"subscribe outside claim", c.Subscribe(ctx, "private/1")},
		{"publish without claim", func() error { _, err := c.Publish(ctx, "public/1", 1); return err }()},
	} {
		var re *client.RPCError
		if !errors.As(call.err, &re) || re.Code != 1001 || !strings.Contains(re.Message, "forbidden") {
			t.Errorf("%s: %v, want error 1001", call.name, call.err)
		}
	}
	if err := c.Subscribe(ctx, "public/1"); err != nil {
		t.Fatalf("subscribe inside the claim: %v", err)
	}
}

func TestBackendErrorKinds(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial(t, "alice", client.Options{})
	for _, tc := range []struct {
		kind shardgate.Kind
		code int
	}{
		{shardgate.KindUnavailable, 1003},
		{shardgate.KindTooLarge, 1004},
		{shardgate.KindUnknownState, 1005},
		{shardgate.KindInternal, -32603},
	} {
		h.be.fail("send", shardgate.Errorf(tc.kind, "it went %s", tc.kind))
		_, err := c.Send(ctxT(t), "bob", 1, "")
		var re *client.RPCError
		if !errors.As(err, &re) || re.Code != tc.code || re.Message != "it went "+tc.kind.String() {
			t.Errorf("%s: %v, want code %d", tc.kind, err, tc.code)
		}
		if re != nil && re.Retryable() != (tc.code == 1003) {
			t.Errorf("%s: retryable %v", tc.kind, re.Retryable())
		}
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.ReadLimit = 1024 })
	c := h.dial(t, "alice", client.Options{})
	_, err := c.Send(ctxT(t), "bob", strings.Repeat("x", 2048), "")
	if !errors.Is(err, client.ErrClosed) {
		t.Fatalf("oversized send: %v, want ErrClosed", err)
	}
	if code := waitClosed(t, c); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	testutil.Eventually(t, 5*time.Second, "close counted", func() bool { return counter(h.m, "shardgate_connections_closed_total", "1009") == 1 })
}

// Over-size frames close with 1009 and a reason naming the limit, however
// they arrive: in one frame a little or far too long, or in fragments
// (messages of more than 256 bytes are, from this dialer) that only
// together pass the limit. A message at the limit passes.
func TestOversizedFrameReason(t *testing.T) {
	const limit = 1024
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.ReadLimit = limit })
	pad := func(n int) []byte { // a send request of exactly n bytes
		head, tail := `{"jsonrpc":"2.0","id":1,"method":"send","params":{"to":"bob","data":"`, `"}}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	for _, tc := range []struct {
		name       string
		size       int
		fragmented bool
	}{
		{"at the limit", limit, false},
		{"at the limit, in fragments", limit, true},
		{"one byte over", limit + 1, false},
		{"one byte over, in fragments", limit + 1, true},
		{"a megabyte", 1 << 20, false},
		{"a megabyte in fragments", 1 << 20, true},
	} {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		if tc.fragmented {
			d.WriteBufferSize = 256
		}
		ws, _, err := d.Dial(h.url, http.Header{"Authorization": {"Bearer " + h.token(t, "alice")}})
		if err != nil {
			t.Fatal(err)
		}
		readFrame(t, ws) // welcome
		ws.WriteMessage(websocket.TextMessage, pad(tc.size))
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		ws.Close()
		var ce *websocket.CloseError
		switch {
		case tc.size <= limit && (err != nil || !strings.Contains(string(data), `"seq"`)):
			t.Errorf("%s: %s %v, want the send answered", tc.name, data, err)
		case tc.size > limit && (!errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig || !strings.Contains(ce.Text, "1024 bytes")):
			t.Errorf("%s: %v, want close 1009 naming the limit", tc.name, err)
		}
	}
}

func TestBinaryFrameRefused(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.raw(t, "alice")
	ws.WriteMessage(websocket.BinaryMessage, []byte(`{}`))
	if resp := readFrame(t, ws); errCode(resp) != -32600 {
		t.Fatalf("binary frame: %v", resp)
	}
}

// A text frame that is not valid UTF-8 closes the connection with 1007, as
// RFC 6455 asks, and nothing of it is stored: a message whose data held
// such bytes would break every standard client that reads the inbox.
func TestInvalidUTF8Closes1007(t *testing.T) {
	h := newHarness(t, nil)
	for _, frame := range []string{
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"send\",\"params\":{\"to\":\"bob\",\"data\":\"\xff\xfe\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"send\",\"params\":{\"to\":\"b\xffb\",\"data\":1}}",
	} {
		ws, _ := h.raw(t, "alice")
		ws.WriteMessage(websocket.TextMessage, []byte(frame))
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		ws.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData || !strings.Contains(ce.Text, "UTF-8") {
			t.Errorf("frame %q: %s %v, want close 1007 about UTF-8", frame, data, err)
		}
	}
	h.be.mu.Lock()
	defer h.be.mu.Unlock()
	for key, msgs := range h.be.inbox {
		if len(msgs) > 0 {
			t.Errorf("%d messages stored for %q from frames that were not UTF-8", len(msgs), key)
		}
	}
}

// A key, topic or id written with a \u escape of half a surrogate pair is
// refused: decoded, it became U+FFFD, and "x\ud800" and "x\udc00" were
// one inbox. A message's data keeps such escapes as sent.
func TestLoneSurrogateInANameIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.raw(t, "alice")
	for _, tc := range []struct{ frame, field string }{
		{`{"jsonrpc":"2.0","id":1,"method":"send","params":{"to":"x\ud800","data":1}}`, "params.to"},
		{`{"jsonrpc":"2.0","id":2,"method":"send","params":{"to":"x\udc00","data":1}}`, "params.to"},
		{`{"jsonrpc":"2.0","id":3,"method":"send","params":{"to":"bob","data":1,"id":"\udfff"}}`, "params.id"},
		{`{"jsonrpc":"2.0","id":4,"method":"presence","params":{"keys":["a","\ud800"]}}`, "params.keys"},
		{`{"jsonrpc":"2.0","id":5,"method":"subscribe","params":{"topic":"t\ud800"}}`, "params.topic"},
	} {
		resp := rpc(t, ws, tc.frame)
		e, _ := resp["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if errCode(resp) != shardgate.CodeInvalidParams || !strings.Contains(msg, tc.field+" holds a \\u escape of half a UTF-16 surrogate pair") {
			t.Errorf("%s: %v, want -32602 naming %s", tc.frame, resp, tc.field)
		}
	}
	resp := rpc(t, ws, `{"jsonrpc":"2.0","id":6,"method":"send","params":{"to":"bob","data":"\ud800 \ud83d\ude00"}}`)
	if resp["error"] != nil {
		t.Fatalf("data with a lone surrogate: %v", resp)
	}
	h.be.mu.Lock()
	defer h.be.mu.Unlock()
	if len(h.be.inbox) != 1 || len(h.be.inbox["bob"]) != 1 || string(h.be.inbox["bob"][0].Data) != `"\ud800 \ud83d\ude00"` {
		t.Errorf("inboxes %v, want bob's one message with its data as sent", h.be.inbox)
	}
}

// A param of the wrong JSON type is refused with a message that says what
// it must be, in the client's terms.
func TestParamTypeMessages(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.raw(t, "alice")
	for _, tc := range []struct{ frame, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"history","params":{"since":0,"limit":2.5}}`, "params.limit must be an integer, got number 2.5"},
		{`{"jsonrpc":"2.0","id":2,"method":"history","params":{"since":1.5}}`, "params.since must be a non-negative integer"},
		{`{"jsonrpc":"2.0","id":3,"method":"send","params":{"to":7,"data":1}}`, "params.to must be a string"},
		{`{"jsonrpc":"2.0","id":4,"method":"send","params":{"to":"","data":1}}`, "params.to: key is empty"},
		{`{"jsonrpc":"2.0","id":5,"method":"send","params":{"data":1}}`, "params.to is required"},
		{`{"jsonrpc":"2.0","id":6,"method":"send","params":{"to":null,"data":1}}`, "params.to is required"},
		// A misspelt member is refused, not ignored: ignored, a retry's
		// idempotency id would be lost and the message stored twice.
		{`{"jsonrpc":"2.0","id":7,"method":"send","params":{"to":"bob","data":{"x":1},"idempotency_id":"k"}}`, `params has an unknown member "idempotency_id"`},
		{`{"jsonrpc":"2.0","id":8,"method":"history","params":{"since":0,"lmit":5}}`, `params has an unknown member "lmit"`},
		{`{"jsonrpc":"2.0","id":9,"method":"subscribe","params":{"topic":"t","\u0078":1}}`, `params has an unknown member "x"`},
	} {
		resp := rpc(t, ws, tc.frame)
		e, _ := resp["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if errCode(resp) != -32602 || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %v, want -32602 saying %q", tc.frame, resp, tc.want)
		}
	}
}

// A frame that is JSON but not an object is refused for what it is: an
// array is a batch, which clients may not send; a scalar is no request.
func TestNonObjectFramesAreNamed(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.raw(t, "alice")
	for _, tc := range []struct{ frame, want string }{
		{`[{"jsonrpc":"2.0","id":1,"method":"presence","params":{"keys":["a"]}}]`, "batches are not supported"},
		{`null`, "not a bare string, number, true, false or null"},
		{` 17`, "not a bare string, number, true, false or null"},
		{`"send"`, "not a bare string, number, true, false or null"},
	} {
		resp := rpc(t, ws, tc.frame)
		e, _ := resp["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if errCode(resp) != -32600 || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %v, want -32600 saying %q", tc.frame, resp, tc.want)
		}
	}
}

// Members are matched as encoding/json matches them to fields (any case,
// escapes decoded), so what was accepted before stays accepted; a send
// with an unknown member stores nothing.
func TestKnownMembersInAnyFormAreAccepted(t *testing.T) {
	h := newHarness(t, nil)
	ws, _ := h.raw(t, "alice")
	for i, params := range []string{
		`{"to":"bob","data":{"a":[1,{"b":"}"}]},"id":"k1"}`,
		`{ "TO" : "bob" , "Data" : "x\"}" , "ID" : "k2" }`,
		`{"\u0074o":"bob","data":null}`,
	} {
		resp := rpc(t, ws, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":%s}`, i+1, params))
		if errCode(resp) != 0 {
			t.Errorf("%s: %v", params, resp)
		}
	}
	inbox := func() int {
		h.be.mu.Lock()
		defer h.be.mu.Unlock()
		return len(h.be.inbox["bob"])
	}
	before := inbox()
	resp := rpc(t, ws, `{"jsonrpc":"2.0","id":9,"method":"send","params":{"to":"bob","data":1,"extra":true}}`)
	if errCode(resp) != -32602 {
		t.Errorf("a send with an unknown member: %v", resp)
	}
	if after := inbox(); after != before {
		t.Errorf("the refused send stored a message: %d → %d", before, after)
	}
}

// BenchmarkDecodeSendParams is the decoding of a send's params with a
// 128-byte payload, the check for unknown members included.
func BenchmarkDecodeSendParams(b *testing.B) {
	params := []byte(`{"to":"user-12345","data":{"text":"` + strings.Repeat("x", 128) + `"},"id":"0123456789abcdef"}`)
	b.ReportAllocs()
	for b.Loop() {
		var p struct {
			To   string          `json:"to"`
			Data json.RawMessage `json:"data"`
			ID   string          `json:"id"`
		}
		if err := decodeParams(params, &p); err != nil {
			b.Fatal(err)
		}
	}
}
