package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
)

// A node whose disk fills refuses writes with a clear error (1003 "disk
// full", HTTP 507), keeps serving reads, loses nothing it acknowledged and
// recovers by itself when space returns. Here the full disk is played by
// the store fault hook failing local writes with a wrapped ENOSPC; the
// diskfull-tagged test fills a real tmpfs.
func TestDiskFullRefusesWritesAndRecovers(t *testing.T) {
	t.Parallel()
	var full atomic.Bool
	enospc := &os.PathError{Op: "write", Path: "shardgate.db", Err: syscall.ENOSPC}
	c := newCluster(t, 2, func(cfg *app.Config) {
		if cfg.Name != "n1" {
			return
		}
		cfg.EngineHook = func(nc *node.Config) {
			nc.DiskProbeInterval = 50 * time.Millisecond
			nc.StoreFault = func() error {
				if full.Load() {
					return fmt.Errorf("store: apply: %w", enospc)
				}
				return nil
			}
		}
	})
	checkDiskFullCycle(t, c, "n1", func() { full.Store(true) }, func() { full.Store(false) })
}

// checkDiskFullCycle sends to a key homed on the node named full, calls
// fill, and checks the refusal (client and HTTP), the metric, the cluster
// view and reads; then calls free and checks that writes come back by
// themselves and that every acknowledged message is in the inbox, at its
// seq, with no gap.
func checkDiskFullCycle(t *testing.T, c *tcluster, full string, fill, free func()) {
	t.Helper()
	n := c.node(full)
	victim := keyHomedOn(t, c, full, "victim")
	alice := dialRaw(t, c, full, "alice")
	acked := map[uint64]string{} // seq → data
	id := 0
	send := func(data string) (float64, string) {
		id++
		frame := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"send","params":{"to":%q,"data":%q,"id":"m%d"}}`, id, victim, data, id)
		if err := alice.ws.WriteMessage(1, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		m := alice.read()
		if e, ok := m["error"].(map[string]any); ok {
			return e["code"].(float64), e["message"].(string)
		}
		res := m["result"].(map[string]any)
		acked[uint64(res["seq"].(float64))] = data
		return 0, ""
	}
	for i := range 5 {
		if code, msg := send(fmt.Sprintf("before-%d", i)); code != 0 {
			t.Fatalf("send before the disk fills: %v %s", code, msg)
		}
	}

	fill()
	// The store may still place a few writes in pages it already has;
	// once one fails for space, the node refuses the rest at once.
	refused := ""
	for i := 0; i < 2000 && refused == ""; i++ {
		code, msg := send(fmt.Sprintf("filling-%d-%s", i, strings.Repeat("x", 512)))
		switch {
		case code == 1003 && strings.Contains(msg, "disk full"):
			refused = msg
		case code != 0:
			t.Fatalf("send while the disk fills: %v %s, want success or 1003 disk full", code, msg)
		}
	}
	if refused == "" {
		t.Fatal("sends never refused for a full disk")
	}
	if !strings.Contains(refused, "node "+full) {
		t.Fatalf("refusal %q does not name the node", refused)
	}
	if code, msg := send("while-full"); code != 1003 || !strings.Contains(msg, "disk full") {
		t.Fatalf("send while the disk is full: %v %s, want 1003 disk full", code, msg)
	}
	resp, err := http.Post(n.AdminURL()+"/v1/users/"+victim+"/messages", "application/json", strings.NewReader(`{"data":"http"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage || body.Error.Code != "storage_full" || !strings.Contains(body.Error.Message, "disk full") {
		t.Fatalf("HTTP send while the disk is full: %d %+v, want 507 storage_full", resp.StatusCode, body.Error)
	}
	if v := scrapeMetrics(t, n.AdminURL()+"/metrics")["shardgate_disk_full"].value; v != 1 {
		t.Fatalf("shardgate_disk_full = %v while full, want 1", v)
	}
	testutil.Eventually(t, 10*time.Second, "/v1/cluster to show the node's disk full", func() bool {
		return diskFullInView(t, c, full)
	})
	// Reads go on.
	checkAcked(t, c, victim, acked)

	free()
	testutil.Eventually(t, 30*time.Second, "writes to come back once space returns", func() bool {
		code, _ := send("after")
		return code == 0
	})
	if v := scrapeMetrics(t, n.AdminURL()+"/metrics")["shardgate_disk_full"].value; v != 0 {
		t.Fatalf("shardgate_disk_full = %v after recovery, want 0", v)
	}
	checkAcked(t, c, victim, acked)
}

func diskFullInView(t *testing.T, c *tcluster, name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := c.node(name).Node().Cluster(ctx)
	if err != nil {
		return false
	}
	for _, nv := range v.Nodes {
		if nv.Name == name {
			return nv.DiskFull
		}
	}
	return false
}

// checkAcked reads key's inbox and checks that it holds seq 1..last with
// no gap and every acknowledged message at its seq.
func checkAcked(t *testing.T, c *tcluster, key string, acked map[uint64]string) {
	t.Helper()
	msgs := c.inbox(key)
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("inbox of %s: seq %d at position %d: a gap", key, m.Seq, i)
		}
	}
	for seq, data := range acked {
		if seq == 0 || seq > uint64(len(msgs)) {
			t.Fatalf("acknowledged seq %d of %s is missing (inbox holds %d)", seq, key, len(msgs))
		}
		var got string
		if err := json.Unmarshal(msgs[seq-1].Data, &got); err != nil || got != data {
			t.Fatalf("seq %d of %s holds %s, acknowledged %q", seq, key, msgs[seq-1].Data, data)
		}
	}
}
