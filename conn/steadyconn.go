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
// library sets the socket's write deadline before every frame, to the
// value it was last given, and setting a socket deadline takes a lock of
// the runtime's timers: a sixth of a fan-out node's CPU. The writer changes
// that value only every few seconds (armWriteDeadline), so repeating the
// deadline already set is skipped here.
type steadyConn struct {
	net.Conn
	mu      sync.Mutex
	writeDL time.Time // the deadline the socket has, as set through here
}

func (c *steadyConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Equal(c.writeDL) {
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
	return &steadyConn{Conn: nc}, brw, nil
}
