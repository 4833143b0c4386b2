package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/conn"
)

// Bad input against a real node: a clear error, the connection kept where
// the protocol says so, and nothing stored.
func TestBadInputOnRealNode(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	c := newCluster(t, 1, func(cfg *app.Config) {
		cfg.Insecure = false
		cfg.AuthSecret = string(secret)
		cfg.AdminToken = "admin-secret-0123456789"
	})
	s := c.node("n1")
	tok, err := conn.MintToken(secret, "mallory", time.Minute, []string{"friend-*"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"?token="+tok, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	read := func() map[string]any {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		return m
	}
	if m := read(); m["method"] != "welcome" {
		t.Fatalf("first frame %v", m)
	}
	errCode := func(frame string) float64 {
		t.Helper()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		m := read()
		e, ok := m["error"].(map[string]any)
		if !ok || e["message"] == "" {
			t.Fatalf("frame %s: want an error with a message, got %v", frame, m)
		}
		return e["code"].(float64)
	}
	cases := []struct {
		frame string
		code  float64
	}{
		{`{not json`, -32700},
		{`{"jsonrpc":"2.0","id":1,"method":"fly","params":{}}`, -32601},
		{`{"jsonrpc":"2.0","id":2,"method":"send","params":{"data":1}}`, -32602},
		{`{"jsonrpc":"2.0","id":3,"method":"send","params":{"to":"stranger","data":1}}`, 1001},
	}
	for _, tc := range cases {
		if got := errCode(tc.frame); got != tc.code {
			t.Errorf("frame %s: code %v, want %v", tc.frame, got, tc.code)
		}
	}
	// The connection is still usable, and a permitted send works.
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":9,"method":"send","params":{"to":"friend-1","data":1}}`)); err != nil {
		t.Fatal(err)
	}
	if m := read(); m["result"] == nil {
		t.Fatalf("permitted send: %v", m)
	}
	h, err := s.Node().History(context.Background(), "stranger", 0, 10)
	if err != nil || len(h.Messages) != 0 {
		t.Fatalf("refused send stored something: %+v %v", h, err)
	}
	// Oversized frame: closed with 1009.
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":10,"method":"send","params":{"to":"friend-1","data":"`+strings.Repeat("x", 1<<20)+`"}}`))
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("oversized frame: %v, want close 1009", err)
	}

	for _, bad := range []string{"", "?token=forged.token.value", "?user=mallory"} {
		// A WebSocket upgrade is accepted and closed with 4001 and a reason,
		// so that a browser can tell a bad token from a node that is down.
		bws, _, err := websocket.DefaultDialer.Dial(s.WSURL()+bad, nil)
		if err != nil {
			t.Errorf("dial with %q: %v, want an upgrade closed with 4001", bad, err)
			continue
		}
		_ = bws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = bws.ReadMessage()
		bws.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text == "" {
			t.Errorf("dial with %q: %v, want close 4001 with a reason", bad, err)
		}
		// A plain request keeps its 401.
		r, err := http.Get(s.PublicURL() + "/v1/ws" + bad)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("plain GET with %q: %d, want 401", bad, r.StatusCode)
		}
	}
	// Admin API without the bearer.
	r, err := http.Get(s.AdminURL() + "/v1/cluster")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || body["error"]["message"] == "" {
		t.Fatalf("admin without bearer: %d %v", r.StatusCode, body)
	}
}
