package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLoopbackModeRefusesRebinding: a node without an admin token answers
// only requests that name this machine. A page on a rebound foreign name
// (Host and Origin evil.example) gets 403 on both listeners, WebSocket
// included; with a token the node no longer depends on it.
func TestLoopbackModeRefusesRebinding(t *testing.T) {
	open := startNode(t, nil)
	guarded := startNode(t, func(c *Config) { c.Name = "t2"; c.AdminToken = "0123456789abcdef-admin" })
	listed := startNode(t, func(c *Config) { c.Name = "t3"; c.AllowedOrigins = []string{"https://app.example"} })

	type req struct {
		url, host, origin string
		want              int
	}
	foreign := "evil.example"
	cases := map[string]req{
		"admin api, foreign host":        {open.AdminURL() + "/v1/cluster", foreign + ":9090", "http://" + foreign + ":9090", 403},
		"admin api, foreign host only":   {open.AdminURL() + "/v1/cluster", foreign, "", 403},
		"admin api, foreign origin":      {open.AdminURL() + "/v1/cluster", "", "http://" + foreign, 403},
		"dashboard, foreign host":        {open.AdminURL() + "/", foreign, "", 403},
		"route, foreign host":            {open.PublicURL() + "/v1/route?key=a", foreign, "http://" + foreign, 403},
		"admin api, 127.0.0.1":           {open.AdminURL() + "/v1/cluster", "", "", 200},
		"admin api, localhost":           {open.AdminURL() + "/v1/cluster", "localhost:9090", "http://localhost:9090", 200},
		"admin api, [::1]":               {open.AdminURL() + "/v1/cluster", "[::1]:9090", "", 200},
		"public health, 127.1.2.3":       {open.PublicURL() + "/healthz", "127.1.2.3", "", 200},
		"token set, foreign host health": {guarded.AdminURL() + "/healthz", foreign, "", 200},
		"public, listed origin":          {listed.PublicURL() + "/v1/client.js", "", "https://app.example", 200},
		"public, unlisted origin":        {listed.PublicURL() + "/v1/client.js", "", "http://" + foreign, 403},
		"admin, listed origin":           {listed.AdminURL() + "/v1/cluster", "", "https://app.example", 403},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			if tc.host != "" {
				r.Host = tc.host
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}

	t.Run("websocket, foreign host", func(t *testing.T) {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		h := http.Header{"Host": {foreign}, "Origin": {"http://" + foreign}}
		ws, resp, err := d.Dial(open.WSURL()+"?user=alice", h)
		if ws != nil {
			ws.Close()
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("upgrade from a rebound name: %v %v, want 403", resp, err)
		}
	})
	t.Run("websocket, loopback", func(t *testing.T) {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial(open.WSURL()+"?user=alice", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), "welcome") {
			t.Fatalf("first frame %s, %v", msg, err)
		}
	})
}
