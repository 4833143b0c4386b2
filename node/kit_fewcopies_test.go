package node_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/node/nodetest"
)

// lockedBuffer is a log destination that engine goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// A cluster with fewer members than the copies --backups asks for keeps
// each shard on every member and acknowledges writes with that many
// copies. An operator is told so, once per member count, and no more once
// enough nodes have joined.
func TestFewerMembersThanCopiesIsLogged(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var logs lockedBuffer
		const warning = "fewer members than copies wanted"
		c := nodetest.Start(t, 2, nodetest.Options{Backups: 2, Engine: func(name string, cfg *node.Config) {
			if name == "n1" {
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}
		}})
		c.WaitSettled(30 * time.Second)
		if n := logs.count("members=2 copies_wanted=3"); n != 1 {
			t.Errorf("warned %d times of 2 members for 3 copies, want once (%d lines logged)", n, logs.count("\n"))
		}
		c.AddNode("n3")
		c.WaitSettled(30 * time.Second)
		before := logs.count(warning)
		c.AddNode("n4")
		c.WaitSettled(30 * time.Second)
		if after := logs.count(warning); after != before {
			t.Errorf("warned again with enough members")
		}
	})
}
