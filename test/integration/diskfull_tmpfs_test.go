//go:build diskfull

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/node"
)

// TestDiskFullTmpfs runs the disk-full cycle on a real full disk: n1's data
// dir is a 2 MiB tmpfs, filled by a file until writes fail with ENOSPC,
// then freed by removing it. It needs root to mount; it fails (never
// skips) without it. Run it with
//
//	go test -tags diskfull -run TestDiskFullTmpfs ./test/integration/
func TestDiskFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and must run as root (.ci/run does)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s: %v: %s", mnt, err, out)
	}
	// Registered before the cluster, so it runs after the nodes are closed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	dataDir := filepath.Join(mnt, "n1")
	c := newCluster(t, 2, func(cfg *app.Config) {
		if cfg.Name != "n1" {
			return
		}
		cfg.DataDir = dataDir
		cfg.NoSync = false // a real disk, as in production
		cfg.EngineHook = func(nc *node.Config) { nc.DiskProbeInterval = 100 * time.Millisecond }
	})
	filler := filepath.Join(mnt, "filler")
	fill := func() {
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 4096)
		for i := 0; i < 1024; i++ { // at most 4 MiB: twice the file system
			if _, err := f.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v, want ENOSPC", mnt, err)
				}
				return
			}
		}
		t.Fatalf("wrote 4 MiB to a 2 MiB tmpfs without ENOSPC: is %s a tmpfs?", mnt)
	}
	free := func() {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
	checkDiskFullCycle(t, c, "n1", fill, free)

	// What n1 acknowledged survives a restart from the same data dir.
	victim := keyHomedOn(t, c, "n1", "victim")
	before := c.inbox(victim)
	c.stop("n1")
	c.start("n1")
	c.waitStable(60 * time.Second)
	after := c.inbox(victim)
	if len(after) < len(before) {
		t.Fatalf("after a restart %s holds %d messages, had %d", victim, len(after), len(before))
	}
	for i := range before {
		if string(after[i].Data) != string(before[i].Data) || after[i].Seq != before[i].Seq {
			t.Fatalf("after a restart seq %d of %s is %s, was %s", before[i].Seq, victim, after[i].Data, before[i].Data)
		}
	}
	fmt.Fprintf(os.Stderr, "disk-full cycle on tmpfs: %d messages of %s kept across a restart\n", len(after), victim)
}
