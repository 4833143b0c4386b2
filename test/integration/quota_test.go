package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
)

// Retention, first_seq and the storage limit on a real node: a key keeps
// its last RetentionMessages messages and a resuming client is told where
// its inbox now starts; once the node stores MaxStorageBytes, sends are
// refused (1003 to clients, 507 on the admin API) and reads go on.
func TestRetentionAndStorageLimit(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, func(cfg *app.Config) {
		cfg.RetentionMessages = 3
		cfg.MaxStorageBytes = 4000
	})
	s := c.node("n1")
	raw := dialRaw(t, c, "n1", "alice")
	frame := func(id int, to, data string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":%q,"data":%s}}`, id, to, data)
	}
	for i := 1; i <= 5; i++ {
		if code, msg := raw.call(frame(i, "bob", fmt.Sprint(i))); code != 0 {
			t.Fatalf("send %d: %v %s", i, code, msg)
		}
	}
	// A client resuming from seq 1 learns that its inbox starts at 3.
	if _, w := dialRawURL(t, s.WSURL()+"?user=bob&since=1"); w["first_seq"] != 3.0 || w["last_seq"] != 5.0 {
		t.Fatalf("welcome %v, want first_seq 3 last_seq 5", w)
	}
	resp, err := http.Get(s.AdminURL() + "/v1/users/bob/messages?since=0")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Messages []json.RawMessage `json:"messages"`
		FirstSeq uint64            `json:"first_seq"`
		LastSeq  uint64            `json:"last_seq"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || page.FirstSeq != 3 || page.LastSeq != 5 || len(page.Messages) != 3 {
		t.Fatalf("admin history: %d %+v", resp.StatusCode, page)
	}

	// Fill the node: each key keeps 3 messages of ~500 bytes.
	big := `"` + strings.Repeat("x", 500) + `"`
	full := false
	for i := 0; i < 40 && !full; i++ {
		code, msg := raw.call(frame(100+i, fmt.Sprintf("k%d", i), big))
		switch {
		case code == 1003 && strings.Contains(msg, "storage full"):
			full = true
		case code != 0:
			t.Fatalf("send %d: %v %s", i, code, msg)
		}
	}
	if !full {
		t.Fatal("sends never refused for storage")
	}
	resp, err = http.Post(s.AdminURL()+"/v1/users/bob/messages", "application/json", strings.NewReader(`{"data":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("admin send on a full node: %d, want 507", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if h, err := s.Node().History(ctx, "bob", 0, 10); err != nil || len(h.Messages) != 3 {
		t.Fatalf("reads on a full node: %+v %v", h, err)
	}
}
