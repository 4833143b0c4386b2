package conn

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// An open connection is closed with 4001 when its token expires, not at the
// next round of pings, which may be a whole PingInterval later: until then
// it kept receiving the key's messages on a token that no longer held.
func TestAnOpenConnectionClosesWhenItsTokenExpires(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.PingInterval, c.PongWait = time.Hour, 2*time.Hour })
	tok, err := MintToken(testSecret, "alice", 2*time.Second, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(h.url, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	readFrame(t, ws) // welcome

	// exp has whole seconds: the token ends within 2 s of now.
	deadline := time.Now().Add(2 * time.Second)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	delivered := 0
	for {
		_, data, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != closeUnauthorized || ce.Text != reasonExpired {
				t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Text, closeUnauthorized, reasonExpired)
			}
			break
		}
		if err != nil {
			t.Fatalf("no close within 8 s of the token's expiry: %v", err)
		}
		if time.Now().After(deadline.Add(500 * time.Millisecond)) {
			var msg map[string]any
			_ = json.Unmarshal(data, &msg)
			delivered++
			t.Errorf("frame %v arrived after the token expired", msg)
		}
	}
	if delivered > 0 {
		t.Errorf("%d frames arrived after the token expired", delivered)
	}
}
