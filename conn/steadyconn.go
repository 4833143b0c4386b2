package conn

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// steadyConn is a client's socket as the WebSocket library sees it. The
// writer asks for a write deadline of WriteTimeout before every frame, and
// setting a socket deadline takes a lock of the runtime's timers: done for
// every frame, it was a sixth of a fan-out node's CPU. So a deadline already
// set stands for a later one asked less than slack after it (a quarter of
// WriteTimeout): each write gets between three quarters of the timeout and
// all of it, and the lock is taken every few seconds of writing.
type steadyConn struct {
	net.Conn
	slack   time.Duration
	mu      sync.Mutex
	writeDL time.Time // the deadline the socket has, as set through here
}

func (c *steadyConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Equal(c.writeDL) || (!c.writeDL.IsZero() && !t.IsZero() && !t.Before(c.writeDL) && t.Sub(c.writeDL) < c.slack) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.writeDL = t
	return nil
}

func (c *steadyConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.writeDL = t
	return nil
}

// steadyHijacker hands the upgrader the hijacked socket as a steadyConn.
type steadyHijacker struct {
	http.ResponseWriter
	slack time.Duration
}

func (h steadyHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("conn: the response cannot be taken over for a WebSocket")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &steadyConn{Conn: nc, slack: h.slack}, brw, nil
}
