package conn

import (
	"fmt"
	"strings"
	"testing"
)

// Data nested deeper than MaxJSONDepth is refused before it is decoded, at
// any depth, with a message that names the limit; nothing reaches the
// backend, and the connection keeps working.
func TestDeeplyNestedFramesRefused(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.MaxJSONDepth = 8 })
	ws, _ := h.raw(t, "alice")
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	send := func(id int, data string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":"bob","data":%s}}`, id, data)
	}
	cases := []struct {
		name  string
		frame string
		code  int
	}{
		{"data at the limit", send(1, nest(8)), 0},
		{"object data at the limit", send(2, strings.Repeat(`{"a":`, 8)+"1"+strings.Repeat("}", 8)), 0},
		{"one level too deep", send(3, nest(9)), -32600},
		{"far too deep for encoding/json", send(4, nest(20000)), -32600},
		{"deep and malformed", send(5, strings.Repeat("[", 50)), -32600},
		{"deep in another param", `{"jsonrpc":"2.0","id":6,"method":"presence","params":{"keys":["a"],"x":` + nest(9) + `}}`, -32600},
		{"deep publish", `{"jsonrpc":"2.0","id":7,"method":"publish","params":{"topic":"t","data":` + nest(9) + `}}`, -32600},
		{"brackets in strings do not count", send(8, `"`+strings.Repeat("[", 100)+`"`), 0},
	}
	for _, tc := range cases {
		resp := rpc(t, ws, tc.frame)
		if got := errCode(resp); got != tc.code {
			t.Errorf("%s: code %d, want %d (%.200v)", tc.name, got, tc.code, resp)
			continue
		}
		if tc.code != 0 {
			// The refusal names the request it answers, so the caller
			// waiting for that id gets it (frames whose id is readable).
			if id, _ := resp["id"].(float64); id == 0 {
				t.Errorf("%s: refusal carries id %v, want the request's", tc.name, resp["id"])
			}
			msg, _ := resp["error"].(map[string]any)["message"].(string)
			if !strings.Contains(msg, "deep") || !strings.Contains(msg, "at most 8 levels") {
				t.Errorf("%s: message %q does not name the limit", tc.name, msg)
			}
		}
	}
	h.be.mu.Lock()
	got := len(h.be.inbox["bob"])
	h.be.mu.Unlock()
	if got != 3 {
		t.Fatalf("bob's inbox holds %d messages, want the 3 accepted ones", got)
	}
}
