package apptest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
)

// Start runs n nodes named n1…nN on loopback, insecure and without fsync,
// n2 and later joining n1, and returns them once each has started; adjust
// changes each node's config before it starts. The nodes are killed when
// the test ends. Start does not wait for the table to settle: callers wait
// for what they need.
func Start(t testing.TB, n int, adjust func(*app.Config)) []*app.Server {
	t.Helper()
	dir := t.TempDir()
	var servers []*app.Server
	t.Cleanup(func() {
		for i := len(servers) - 1; i >= 0; i-- {
			servers[i].Kill()
		}
	})
	var seed string
	for i := 1; i <= n; i++ {
		cfg := app.DefaultConfig()
		cfg.Name = "n" + strconv.Itoa(i)
		cfg.DataDir = filepath.Join(dir, cfg.Name)
		cfg.GossipAddr = testutil.FreeAddr(t)
		cfg.WSAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.Insecure, cfg.Local, cfg.NoSync = true, true, true
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if seed != "" {
			cfg.Join = []string{seed}
		} else {
			seed = cfg.GossipAddr
		}
		if adjust != nil {
			adjust(&cfg)
		}
		s, err := app.New(cfg)
		if err != nil {
			t.Fatalf("apptest: node %s: %v", cfg.Name, err)
		}
		servers = append(servers, s)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = s.Start(ctx)
		cancel()
		if err != nil {
			t.Fatalf("apptest: start %s: %v", cfg.Name, err)
		}
	}
	return servers
}
