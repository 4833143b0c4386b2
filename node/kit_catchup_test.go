package node_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
)

// A home whose store went back in time (a disk that lost writes it had
// reported synced, a data dir restored from an older copy) takes what it
// lost back from its backup before it hands out a seq. Before, it handed
// out the lost messages' seqs again and its backup took the new messages
// in their place: acknowledged messages gone from every copy.
func TestAHomeWhoseStoreWentBackInTimeTakesItBackFromItsBackup(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 2, nodetest.Options{})
		key := "back-in-time"
		home, backup := homeAndBackup(c, key)
		sendN := func(from, to int) {
			t.Helper()
			for i := from; i <= to; i++ {
				if res := send(t, c.Node(home), "sender", key, i); res.Seq != uint64(i) {
					t.Fatalf("send %d got seq %d", i, res.Seq)
				}
			}
		}
		sendN(1, 5)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		goBackInTime(t, c, home, func() {
			sendN(6, 10)
			if err := c.Node(home).Engine.Ack(ctx, key, 8); err != nil {
				t.Fatal(err)
			}
		})
		if got := c.Owner(key); got != home {
			t.Fatalf("the key moved to %s: the case under test is a home that stays home", got)
		}

		sendN(11, 11)
		for _, on := range []string{home, backup} {
			h, err := c.Node(on).Engine.History(ctx, key, 0, 100)
			if err != nil {
				t.Fatalf("history on %s: %v", on, err)
			}
			if len(h.Messages) != 11 || h.LastSeq != 11 {
				t.Fatalf("history read through %s: %d messages, last seq %d; want 11 and 11", on, len(h.Messages), h.LastSeq)
			}
			for i, m := range h.Messages {
				if want := uint64(i + 1); m.Seq != want || string(m.Data) != fmt.Sprint(i+1) {
					t.Errorf("through %s: message %d is seq %d %s; want seq %d data %d", on, i, m.Seq, m.Data, want, i+1)
				}
			}
		}
		r, err := c.Node(home).Engine.Route(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, on := range []*nodetest.Node{c.Node(home), c.Node(backup)} {
			if cur, err := on.Store.Cursor(r.Shard, key); err != nil || cur != 8 {
				t.Errorf("cursor in the store of %s = %d, %v; want 8", on.Name, cur, err)
			}
		}
	})
}

// homeAndBackup names the home of key in a cluster of n1 and n2, and the
// other node.
func homeAndBackup(c *nodetest.Cluster, key string) (home, backup string) {
	home = c.Owner(key)
	if home == "n1" {
		return home, "n2"
	}
	return home, "n1"
}

// goBackInTime keeps a copy of name's data dir, lets meanwhile run, and
// restarts name on the copy: its store goes back to where it was.
func goBackInTime(t *testing.T, c *nodetest.Cluster, name string, meanwhile func()) {
	t.Helper()
	c.Crash(name)
	older := t.TempDir()
	copyTree(t, c.DataDir(name), older)
	c.Restart(name)
	c.WaitSettled(30 * time.Second)
	meanwhile()
	c.Crash(name)
	if err := os.RemoveAll(c.DataDir(name)); err != nil {
		t.Fatal(err)
	}
	copyTree(t, older, c.DataDir(name))
	c.Restart(name)
	c.WaitSettled(30 * time.Second)
}

// copyTree copies the regular files of dir src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// The same for a backup: a key that is not written again would stay short
// on it (a write's gap check repairs only the key it writes), and its
// messages would be lost once the backup became the key's home. At start
// it takes from each shard's home what its store lacks.
func TestABackupWhoseStoreWentBackInTimeTakesItBackFromTheHome(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		key := "back-in-time"
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		r, err := c.Node("n1").Engine.Route(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		home, backup := r.Owner, r.Backups[0]
		sendN := func(on string, from, to int) {
			t.Helper()
			for i := from; i <= to; i++ {
				if res := send(t, c.Node(on), "sender", key, i); res.Seq != uint64(i) {
					t.Fatalf("send %d got seq %d", i, res.Seq)
				}
			}
		}
		sendN(home, 1, 5)
		goBackInTime(t, c, backup, func() { sendN(home, 6, 10) })
		testutil.Eventually(t, 20*time.Second, "the backup holds all 10 messages", func() bool {
			msgs, last, err := c.Node(backup).Store.Read(r.Shard, key, 0, 100)
			return err == nil && len(msgs) == 10 && last == 10
		})

		c.Kill(home)
		testutil.Eventually(t, 30*time.Second, "the backup is the key's home", func() bool {
			r, err := c.Node(backup).Engine.Route(ctx, key)
			return err == nil && r.Owner == backup
		})
		sendN(backup, 11, 11)
		h, err := c.Node(backup).Engine.History(ctx, key, 0, 100)
		if err != nil || len(h.Messages) != 11 {
			t.Fatalf("history after the failover: %d messages, %v; want 11", len(h.Messages), err)
		}
		for i, m := range h.Messages {
			if m.Seq != uint64(i+1) || string(m.Data) != fmt.Sprint(i+1) {
				t.Errorf("message %d is seq %d %s", i, m.Seq, m.Data)
			}
		}
	})
}

// A restarted home whose backup cannot be reached cannot compare its store
// with it, refuses the shard's writes meanwhile, and says so in its
// readiness; it catches up by itself once the backup is back.
func TestAHomeIsNotReadyUntilItHasComparedItsStoreWithItsBackups(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 2, nodetest.Options{})
		key := "compare-first"
		home, backup := homeAndBackup(c, key)
		send(t, c.Node(home), "sender", key, 1)
		c.Crash(backup) // gossip still counts it alive: no failover
		c.Crash(home)
		c.Restart(home)
		err := c.Node(home).Engine.Ready()
		if err == nil || !strings.Contains(err.Error(), "comparing its store with its backups") {
			t.Fatalf("readiness of a home that could not reach its backup: %v", err)
		}
		if _, err := trySend(c.Node(home), "sender", key, 2, ""); err == nil || !strings.Contains(err.Error(), "checking what its backups hold") {
			t.Fatalf("a send meanwhile: %v", err)
		}
		hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.Node(home).Engine.History(hctx, key, 0, 10); err == nil || !strings.Contains(err.Error(), "comparing its home's store with its backups") {
			t.Fatalf("a read meanwhile: %v", err)
		}
		c.Restart(backup)
		testutil.Eventually(t, 20*time.Second, "the home is ready", func() bool { return c.Node(home).Engine.Ready() == nil })
		if res := send(t, c.Node(home), "sender", key, 2); res.Seq != 2 {
			t.Fatalf("seq %d after the catch-up; want 2", res.Seq)
		}
	})
}
