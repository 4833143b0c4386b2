package conn

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
)

// countingListener counts, in n, the write deadlines set on the sockets
// it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

func (c *countingConn) SetDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetDeadline(t)
}

// TestFramesShareTheSocketDeadline: a connection's frames leave under one
// socket write deadline, re-set only every quarter of the write timeout,
// not one per frame (each set takes a lock of the runtime's timers).
func TestFramesShareTheSocketDeadline(t *testing.T) {
	h := newHarness(t, nil)
	bob := h.dial(t, "bob", client.Options{})
	if err := bob.Subscribe(ctxT(t), "news"); err != nil {
		t.Fatal(err)
	}
	before := h.writeDeadlines.Load()
	const n = 200
	for i := range n {
		// One at a time, each read before the next, so that each leaves
		// in its own frame.
		if got := h.srv.DeliverPublication(shardgate.Publication{Topic: "news", From: "alice", TS: int64(i)}); got != 1 {
			t.Fatalf("publication %d reached %d subscribers, want 1", i, got)
		}
		select {
		case <-bob.Publications():
		case <-time.After(5 * time.Second):
			t.Fatalf("publication %d never arrived", i)
		}
	}
	if sets := h.writeDeadlines.Load() - before; sets > 2 {
		t.Errorf("%d frames set the socket's write deadline %d times, want at most 2", n, sets)
	}
}
