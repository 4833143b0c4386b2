package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted serves one WebSocket whose server side is script.
func scripted(t *testing.T, script func(ws *websocket.Conn)) string {
	t.Helper()
	done := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer close(done)
		defer ws.Close()
		script(ws)
	}))
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server script did not end")
		}
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws"
}

func send(ws *websocket.Conn, v string) { ws.WriteMessage(websocket.TextMessage, []byte(v)) }

const welcome = `{"jsonrpc":"2.0","method":"welcome","params":{"key":"alice","node":"n1","shard":3,"last_seq":9,"first_seq":4,"session":"s1"}}`

// answer reads one request and answers it with result or error JSON.
func answer(ws *websocket.Conn, method, result string) {
	_, data, err := ws.ReadMessage()
	if err != nil {
		return
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	json.Unmarshal(data, &req)
	if req.Method != method {
		send(ws, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"error":{"code":-32601,"message":"unexpected `+req.Method+`"}}`)
		return
	}
	send(ws, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,`+result+`}`)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCallsAndNotifications(t *testing.T) {
	url := scripted(t, func(ws *websocket.Conn) {
		send(ws, welcome)
		send(ws, `{"jsonrpc":"2.0","method":"message","params":{"seq":10,"from":"bob","data":{"x":1},"ts":5}}`)
		send(ws, `{"jsonrpc":"2.0","method":"publication","params":{"topic":"t","from":"bob","data":2,"ts":6}}`)
		send(ws, `{"jsonrpc":"2.0","method":"moved","params":{"url":"ws://n2","reason":"rebalance"}}`)
		answer(ws, "send", `"result":{"to":"bob","seq":4}`)
		answer(ws, "history", `"error":{"code":1003,"message":"shard moving"}`)
		answer(ws, "presence", `"result":{"bob":{"online":true,"connections":2}}`)
		answer(ws, "publish", `"result":{"delivered_nodes":3}`)
		ws.ReadMessage() // the client's close
	})
	c, err := Dial(ctxT(t), url, Options{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.Key != "alice" || w.Shard != 3 || w.LastSeq != 9 || w.FirstSeq != 4 || w.Session != "s1" {
		t.Fatalf("welcome %+v", w)
	}
	if m := <-c.Messages(); m.Seq != 10 || string(m.Data) != `{"x":1}` || c.LastSeq() != 10 {
		t.Fatalf("message %+v, last seq %d", m, c.LastSeq())
	}
	if p := <-c.Publications(); p.Topic != "t" || string(p.Data) != "2" {
		t.Fatalf("publication %+v", p)
	}
	if h := <-c.Moved(); h.URL != "ws://n2" {
		t.Fatalf("moved %+v", h)
	}
	ctx := ctxT(t)
	if r, err := c.Send(ctx, "bob", json.RawMessage(`{"a":1}`), "id1"); err != nil || r.Seq != 4 {
		t.Fatalf("send %+v, %v", r, err)
	}
	_, err = c.History(ctx, 0, 0)
	var re *RPCError
	if !errors.As(err, &re) || re.Code != 1003 || !re.Retryable() || re.Message != "shard moving" {
		t.Fatalf("history error %v", err)
	}
	if p, err := c.Presence(ctx, "bob"); err != nil || p["bob"].Connections != 2 {
		t.Fatalf("presence %+v, %v", p, err)
	}
	if n, err := c.Publish(ctx, "t", 1); err != nil || n != 3 {
		t.Fatalf("publish %d, %v", n, err)
	}
	c.Close()
	if c.CloseCode() != websocket.CloseNormalClosure {
		t.Fatalf("close code after Close: %d", c.CloseCode())
	}
	if _, err := c.Send(ctx, "bob", 1, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestServerCloseEndsEverything(t *testing.T) {
	url := scripted(t, func(ws *websocket.Conn) {
		send(ws, welcome)
		ws.ReadMessage() // a request we never answer
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4009, "slow consumer"), time.Now().Add(time.Second))
		ws.ReadMessage()
	})
	c, err := Dial(ctxT(t), url, Options{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Presence(ctxT(t), "x")
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "4009") {
		t.Fatalf("pending call: %v", err)
	}
	<-c.Done()
	if c.CloseCode() != 4009 {
		t.Fatalf("close code %d", c.CloseCode())
	}
	if _, ok := <-c.Messages(); ok {
		t.Fatal("messages channel still open")
	}
}

func TestDialFailures(t *testing.T) {
	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthorized","message":"token has expired: get a new one"}}`))
	}))
	defer refused.Close()
	_, err := Dial(ctxT(t), "ws"+strings.TrimPrefix(refused.URL, "http"), Options{Token: "x"})
	if !errors.Is(err, shardgate.ErrUnauthorized) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("refused dial: %v", err)
	}

	notWelcome := scripted(t, func(ws *websocket.Conn) {
		send(ws, `{"jsonrpc":"2.0","method":"message","params":{}}`)
		ws.ReadMessage()
	})
	if _, err := Dial(ctxT(t), notWelcome, Options{}); err == nil || !strings.Contains(err.Error(), "not a welcome") {
		t.Fatalf("first frame not a welcome: %v", err)
	}

	closed := scripted(t, func(ws *websocket.Conn) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4008, "too many connections"), time.Now().Add(time.Second))
	})
	_, err = Dial(ctxT(t), closed, Options{})
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4008 {
		t.Fatalf("closed before welcome: %v", err)
	}

	silent := scripted(t, func(ws *websocket.Conn) { ws.ReadMessage() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, silent, Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no welcome before the deadline: %v", err)
	}
}

func TestRoute(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/route" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("key") != "a b" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"no such key"}}`))
			return
		}
		w.Write([]byte(`{"key":"a b","shard":17,"owner":"n2","backups":["n3"],"ws_url":"ws://n2/v1/ws","version":12}`))
	}))
	defer hs.Close()
	r, err := Route(ctxT(t), "ws"+strings.TrimPrefix(hs.URL, "http")+"/v1/ws", "a b")
	if err != nil || r.Owner != "n2" || r.Shard != 17 || r.Version != 12 || r.Backups[0] != "n3" {
		t.Fatalf("route %+v, %v", r, err)
	}
	if _, err := Route(ctxT(t), hs.URL, "zzz"); !errors.Is(err, shardgate.ErrNotFound) {
		t.Fatalf("unknown route: %v", err)
	}
}

func TestBatchedNotifications(t *testing.T) {
	url := scripted(t, func(ws *websocket.Conn) {
		send(ws, welcome)
		send(ws, ` [{"jsonrpc":"2.0","method":"message","params":{"seq":10,"from":"bob","data":1,"ts":5}},`+
			`{"jsonrpc":"2.0","method":"message","params":{"seq":11,"from":"bob","data":2,"ts":6}},`+
			`{"jsonrpc":"2.0","method":"publication","params":{"topic":"t","from":"bob","data":3,"ts":7}}]`)
		send(ws, `[]`)
		send(ws, `[{"jsonrpc":"2.0","method":"message","params":{"seq":12,"from":"bob","data":4,"ts":8}}, 17, "x"]`)
		send(ws, `{"jsonrpc":"2.0","method":"message","params":{"seq":13,"from":"bob","data":5,"ts":9}}`)
		ws.ReadMessage() // the client's close
	})
	c, err := Dial(ctxT(t), url, Options{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for want := uint64(10); want <= 13; want++ {
		select {
		case m := <-c.Messages():
			if m.Seq != want {
				t.Fatalf("got seq %d, want %d", m.Seq, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("seq %d never arrived", want)
		}
	}
	if p := <-c.Publications(); p.Topic != "t" || string(p.Data) != "3" {
		t.Fatalf("publication %+v", p)
	}
}

// A call whose context is already done, or ends while it waits, must not
// break the connection for the calls after it: a write that failed on a
// deadline leaves the WebSocket unusable for good, so the caller's
// deadline is never the write's.
func TestAnExpiredContextDoesNotBreakTheConnection(t *testing.T) {
	url := scripted(t, func(ws *websocket.Conn) {
		send(ws, welcome)
		answer(ws, "send", `"result":{"to":"bob","seq":4}`)
		ws.ReadMessage() // the client's close
	})
	c, err := Dial(ctxT(t), url, Options{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := c.Send(expired, "bob", 1, "id1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send with an expired context: %v, want the context's error", err)
	}
	if r, err := c.Send(ctxT(t), "bob", 1, "id1"); err != nil || r.Seq != 4 {
		t.Fatalf("the next send: %+v, %v; want it answered", r, err)
	}
}
