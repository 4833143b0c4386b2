package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// fakeNode speaks enough of the protocol to test Client: inboxes with
// idempotent sends, since replay, history, subscriptions, route look-ups,
// moved hints, and faults (cut every connection, lose a send's answer).
type fakeNode struct {
	t   testing.TB
	hs  *httptest.Server
	url string // ws://…/v1/ws

	mu       sync.Mutex
	inbox    map[string][]shardgate.Message
	ids      map[string]uint64 // from/id → seq
	attempts map[string]int    // send attempts per id
	conns    map[*websocket.Conn]string
	subs     map[*websocket.Conn]map[string]bool
	dials    []string      // the since of every connection ("" when absent)
	routeTo  string        // ws_url the route look-up answers
	loseNext bool          // store the next send, then cut the connection before answering
	batch    bool          // replay as one JSON-RPC batch
	refuse   int           // close code for the next upgrades (0: none)
	ping     time.Duration // ping every connection this often (0: never)
	// fail answers the next calls of a method with these errors, one each;
	// an error with close set also closes the connection with that code.
	fail map[string][]fakeErr
	wmu  sync.Mutex
}

type fakeErr struct {
	code  int
	msg   string
	close int
}

// failNext makes the next n calls of method fail with e.
func (f *fakeNode) failNext(method string, n int, e fakeErr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string][]fakeErr{}
	}
	for range n {
		f.fail[method] = append(f.fail[method], e)
	}
}

// failing takes the next planned error of method, if any.
func (f *fakeNode) failing(method string) (fakeErr, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.fail[method]
	if len(q) == 0 {
		return fakeErr{}, false
	}
	f.fail[method] = q[1:]
	return q[0], true
}

func newFakeNode(t testing.TB) *fakeNode {
	f := &fakeNode{t: t, inbox: map[string][]shardgate.Message{}, ids: map[string]uint64{}, attempts: map[string]int{},
		conns: map[*websocket.Conn]string{}, subs: map[*websocket.Conn]map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/ws", f.serveWS)
	mux.HandleFunc("/v1/route", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		to := f.routeTo
		f.mu.Unlock()
		if to == "" {
			to = f.url
		}
		json.NewEncoder(w).Encode(shardgate.Route{Key: r.URL.Query().Get("key"), WSURL: to, Owner: "n1"})
	})
	f.hs = httptest.NewServer(mux)
	f.url = "ws" + strings.TrimPrefix(f.hs.URL, "http") + "/v1/ws"
	t.Cleanup(func() { f.cut(); f.hs.Close() })
	return f
}

func (f *fakeNode) write(ws *websocket.Conn, v any) {
	b, _ := json.Marshal(v)
	f.wmu.Lock()
	defer f.wmu.Unlock()
	ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	ws.WriteMessage(websocket.TextMessage, b)
}

func note(method string, params any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "method": method, "params": params}
}

func (f *fakeNode) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	key := r.URL.Query().Get("user")
	f.mu.Lock()
	f.dials = append(f.dials, r.URL.Query().Get("since"))
	if code := f.refuse; code != 0 {
		f.mu.Unlock()
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "refused"), time.Now().Add(time.Second))
		return
	}
	since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	var replay []any
	for _, m := range f.inbox[key] {
		if m.Seq > since {
			replay = append(replay, note("message", m))
		}
	}
	f.conns[ws] = key
	f.subs[ws] = map[string]bool{}
	last := uint64(len(f.inbox[key]))
	batch := f.batch
	// Written under mu, so that no live delivery can overtake the replay.
	f.write(ws, note("welcome", Welcome{Key: key, Node: "n1", LastSeq: last, Session: "s"}))
	if batch && len(replay) > 0 {
		f.write(ws, replay)
	} else {
		for _, n := range replay {
			f.write(ws, n)
		}
	}
	f.mu.Unlock()
	stopPing := make(chan struct{})
	defer close(stopPing)
	if f.ping > 0 {
		go func() {
			t := time.NewTicker(f.ping)
			defer t.Stop()
			for {
				select {
				case <-stopPing:
					return
				case <-t.C:
					ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
				}
			}
		}()
	}
	defer func() {
		f.mu.Lock()
		delete(f.conns, ws)
		delete(f.subs, ws)
		f.mu.Unlock()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		json.Unmarshal(data, &req)
		if e, ok := f.failing(req.Method); ok {
			f.write(ws, map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": e.code, "message": e.msg}})
			if e.close != 0 {
				f.wmu.Lock()
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(e.close, e.msg), time.Now().Add(time.Second))
				f.wmu.Unlock()
				return
			}
			continue
		}
		result, cut := f.handle(ws, key, req.Method, req.Params)
		if cut {
			return
		}
		f.write(ws, map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}
}

func (f *fakeNode) handle(ws *websocket.Conn, key, method string, params json.RawMessage) (result any, cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch method {
	case "send":
		var p struct {
			To   string          `json:"to"`
			Data json.RawMessage `json:"data"`
			ID   string          `json:"id"`
		}
		json.Unmarshal(params, &p)
		f.attempts[p.ID]++
		seq, ok := f.ids[key+"/"+p.ID]
		if !ok {
			seq = uint64(len(f.inbox[p.To]) + 1)
			m := shardgate.Message{Seq: seq, From: key, Data: p.Data, ID: p.ID}
			f.inbox[p.To] = append(f.inbox[p.To], m)
			f.ids[key+"/"+p.ID] = seq
			for c, k := range f.conns {
				if k == p.To {
					f.write(c, note("message", m))
				}
			}
		}
		if f.loseNext {
			f.loseNext = false
			return nil, true
		}
		return shardgate.SendResult{To: p.To, Seq: seq}, false
	case "history":
		var p struct{ Since, Limit uint64 }
		json.Unmarshal(params, &p)
		var out []shardgate.Message
		for _, m := range f.inbox[key] {
			if m.Seq > p.Since && (p.Limit == 0 || uint64(len(out)) < p.Limit) {
				out = append(out, m)
			}
		}
		return shardgate.HistoryResult{Messages: out, LastSeq: uint64(len(f.inbox[key]))}, false
	case "subscribe":
		var p struct{ Topic string }
		json.Unmarshal(params, &p)
		f.subs[ws][p.Topic] = true
	}
	return struct{}{}, false
}

// store puts a message in key's inbox (as another sender would) and
// delivers it live, optionally as a batch of one.
func (f *fakeNode) store(key string, data any) uint64 {
	r, _ := f.handle(nil, "server", "send", mustJSON(map[string]any{"to": key, "data": data, "id": fmt.Sprint(time.Now().UnixNano())}))
	return r.(shardgate.SendResult).Seq
}

// publish sends a publication to every subscriber of topic.
func (f *fakeNode) publish(topic string, data any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for c, subs := range f.subs {
		if subs[topic] {
			f.write(c, note("publication", map[string]any{"topic": topic, "from": "x", "data": data}))
			n++
		}
	}
	return n
}

// moved sends every connection a moved hint.
func (f *fakeNode) moved(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		f.write(c, note("moved", map[string]string{"url": url, "reason": "rebalance"}))
	}
}

// cut drops every connection without a close frame.
func (f *fakeNode) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.NetConn().Close()
	}
}

func (f *fakeNode) connCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *fakeNode) sinces() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dials...)
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
