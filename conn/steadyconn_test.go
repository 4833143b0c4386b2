package conn

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
)

// countingListener counts, in st, the write deadlines set on the sockets
// it accepts, and records how far ahead of each write its deadline was.
type countingListener struct {
	net.Listener
	st *socketStats
}

type socketStats struct {
	sets      atomic.Int64
	mu        sync.Mutex
	minMargin time.Duration // the least time any write had left until its deadline
}

// resetMargin forgets the margins seen so far.
func (st *socketStats) resetMargin() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.minMargin = time.Hour
}

func (st *socketStats) margin() time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.minMargin
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, st: l.st}, nil
}

type countingConn struct {
	net.Conn
	st *socketStats
	mu sync.Mutex
	dl time.Time
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.record(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *countingConn) SetDeadline(t time.Time) error {
	c.record(t)
	return c.Conn.SetDeadline(t)
}

func (c *countingConn) record(dl time.Time) {
	c.st.sets.Add(1)
	c.mu.Lock()
	c.dl = dl
	c.mu.Unlock()
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	dl := c.dl
	c.mu.Unlock()
	if !dl.IsZero() {
		c.st.mu.Lock()
		c.st.minMargin = min(c.st.minMargin, time.Until(dl))
		c.st.mu.Unlock()
	}
	return c.Conn.Write(b)
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
	before := h.sockets.sets.Load()
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
	if sets := h.sockets.sets.Load() - before; sets > 2 {
		t.Errorf("%d frames set the socket's write deadline %d times, want at most 2", n, sets)
	}
}

// TestEveryWriteHasMostOfTheTimeout: every write, also one soon after a
// control frame (a pong, under its own deadline), gets at least three
// quarters of WriteTimeout.
func TestEveryWriteHasMostOfTheTimeout(t *testing.T) {
	const timeout = 4 * time.Second
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.WriteTimeout = timeout })
	ws, _ := h.raw(t, "bob")
	if resp := rpc(t, ws, `{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"news"}}`); resp["error"] != nil {
		t.Fatalf("subscribe: %v", resp)
	}
	h.sockets.resetMargin()
	publish := func() {
		t.Helper()
		if got := h.srv.DeliverPublication(shardgate.Publication{Topic: "news", From: "alice"}); got != 1 {
			t.Fatalf("publication reached %d subscribers, want 1", got)
		}
		readFrame(t, ws) // also takes in any pong written before it
	}
	publish() // arms the deadline: now + 4 s
	time.Sleep(1400 * time.Millisecond)
	if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the pong leaves under its own deadline
	publish()                         // 1.45 s after arming: 2.55 s left unless re-armed
	// Scheduling between the check and the write may take a little of it.
	if m := h.sockets.margin(); m < timeout*3/4-250*time.Millisecond {
		t.Fatalf("a write had %v left until its deadline, want at least %v", m.Round(time.Millisecond), timeout*3/4)
	}
}
