package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardgate/shardgate"
)

// The guard turns a write that failed for space into a storage_full
// refusal, refuses at once from then on, and lets writes through again by
// itself as soon as its probe succeeds; other errors pass untouched.
func TestDiskGuardRefusesUntilProbeSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var room atomic.Bool
		var probes atomic.Int32
		var gauge atomic.Value
		g := &diskGuard{node: "n1", dir: "/data", interval: time.Second,
			probe: func() error {
				probes.Add(1)
				if room.Load() {
					return nil
				}
				return syscall.ENOSPC
			},
			setGauge: func(v float64) { gauge.Store(v) },
			log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			spawn:    func(f func()) { wg.Go(f) },
			ctx:      ctx,
		}
		defer func() { cancel(); wg.Wait() }()

		other := errors.New("checksum mismatch")
		if err := g.note(other); err != other || g.refusal() != nil {
			t.Fatalf("another error: note %v, refusal %v; want it unchanged and no refusal", err, g.refusal())
		}
		enospc := fmt.Errorf("store: apply 2 ops: %w", &os.PathError{Op: "write", Path: "/data/shardgate.db", Err: syscall.ENOSPC})
		err := g.note(enospc)
		if shardgate.KindOf(err) != shardgate.KindStorageFull || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("a write without space: %v (kind %v), want storage_full keeping ENOSPC", err, shardgate.KindOf(err))
		}
		if msg := shardgate.UserMessage(err); msg != "disk full: node n1 has no space left to store writes; they are refused until space returns, reads still work" {
			t.Fatalf("message to clients: %q", msg)
		}
		if g.refusal() == nil || !g.full() || gauge.Load() != 1.0 {
			t.Fatalf("after a full disk: refusal %v, full %v, gauge %v", g.refusal(), g.full(), gauge.Load())
		}
		// A second failure does not start a second probe.
		g.note(enospc)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if p := probes.Load(); p != 3 {
			t.Fatalf("%d probes in 3 s at one a second, want 3", p)
		}
		if g.refusal() == nil {
			t.Fatal("writes accepted while the probe still fails")
		}
		room.Store(true)
		time.Sleep(time.Second)
		synctest.Wait()
		if g.refusal() != nil || g.full() || gauge.Load() != 0.0 {
			t.Fatalf("after space returned: refusal %v, full %v, gauge %v", g.refusal(), g.full(), gauge.Load())
		}
		// The probe loop has ended: no more probes.
		n := probes.Load()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if probes.Load() != n {
			t.Fatal("the probe kept running after recovery")
		}
		// EDQUOT counts as full too, and a new episode probes again.
		if err := g.note(syscall.EDQUOT); shardgate.KindOf(err) != shardgate.KindStorageFull {
			t.Fatalf("quota exceeded: %v", err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if g.full() {
			t.Fatal("second episode not recovered by the probe")
		}
	})
}
