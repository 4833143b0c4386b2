package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestConnectionLimitSettings: the per-connection limits of `shardgate run`
// reach the WebSocket endpoint.
func TestConnectionLimitSettings(t *testing.T) {
	s := startNode(t, func(c *Config) {
		c.MaxFrameBytes = 2048
		c.MaxConnectionsPerKey = 1
		c.ConnRate = 1 // bursts of 2
	})
	dial := func(t *testing.T, user string) *websocket.Conn {
		t.Helper()
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial(s.WSURL()+"?user="+user+"&since=now", nil)
		if err != nil {
			t.Fatalf("dial %s: %v", user, err)
		}
		t.Cleanup(func() { ws.Close() })
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil { // welcome
			t.Fatalf("welcome of %s: %v", user, err)
		}
		return ws
	}
	closeCode := func(t *testing.T, ws *websocket.Conn) (int, string) {
		t.Helper()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("read: %v, want a close frame", err)
				}
				return ce.Code, ce.Text
			}
		}
	}

	t.Run("max-connections-per-key", func(t *testing.T) {
		dial(t, "alice")
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial(s.WSURL()+"?user=alice", nil)
		if err != nil {
			t.Fatalf("second connection of alice: %v", err)
		}
		defer ws.Close()
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if code, _ := closeCode(t, ws); code != 4008 {
			t.Fatalf("second connection of alice closed with %d, want 4008", code)
		}
	})
	t.Run("max-frame-bytes", func(t *testing.T) {
		ws := dial(t, "bob")
		frame := `{"jsonrpc":"2.0","id":1,"method":"send","params":{"to":"carol","data":"` + strings.Repeat("x", 2100) + `"}}`
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		if code, text := closeCode(t, ws); code != websocket.CloseMessageTooBig || !strings.Contains(text, "2048 bytes") {
			t.Fatalf("frame over 2048 bytes closed with %d %q, want 1009 naming 2048 bytes", code, text)
		}
	})
	t.Run("conn-rate", func(t *testing.T) {
		ws := dial(t, "dave")
		for i := 1; i <= 5; i++ {
			req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"presence","params":{"keys":["x"]}}`, i)
			if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
				t.Fatal(err)
			}
		}
		limited := 0
		for i := 0; i < 5; i++ {
			_, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Error *struct{ Code int } `json:"error"`
			}
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if resp.Error != nil && resp.Error.Code == 1002 {
				limited++
			}
		}
		if limited < 2 {
			t.Fatalf("%d of 5 back-to-back frames refused with 1002 at 1 frame/s (bursts of 2), want at least 2", limited)
		}
	})
}

func TestConnectionLimitSettingsValidated(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxFrameBytes = 100 }, "--max-frame-bytes must be between 1KiB and 1MiB"},
		{func(c *Config) { c.MaxFrameBytes = 2 << 20 }, "--max-frame-bytes must be between 1KiB and 1MiB"},
		{func(c *Config) { c.ConnRate = -1 }, "--conn-rate must be more than 0"},
		{func(c *Config) { c.SendQueue = 1 }, "--send-queue must hold at least 2 frames"},
		{func(c *Config) { c.MaxConnectionsPerKey = -1 }, "--max-connections-per-key must be at least 1"},
	} {
		c := DefaultConfig()
		c.Name, c.Insecure = "n1", true
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %v, want %q…", err, tc.want)
		}
	}
}
