package link

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// writeWait bounds one write to the socket: a peer that does not read for
// this long is treated as gone, and its connection's calls fail.
const writeWait = 10 * time.Second

// maxInFlight bounds the requests being handled at once per Mesh. When it is
// reached the readers stop reading, which pushes back on the senders through
// TCP instead of growing memory without limit.
const maxInFlight = 1024

// writeLoop is the only goroutine that writes to the socket. Each time it
// wakes it sends everything queued since the last write as one frame, so
// under load many envelopes share a frame and a syscall, and when idle a
// lone envelope leaves at once.
func (c *conn) writeLoop() {
	ping := time.NewTicker(c.m.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(fmt.Errorf("ping: %w", err))
				return
			}
		case <-c.wake:
			if err := c.flush(); err != nil {
				c.close(err)
				return
			}
		}
	}
}

// flush writes the queued envelopes, split into frames that the peer's read
// limit accepts (peers share the configuration).
func (c *conn) flush() error {
	// Yield once before draining: callers that are already runnable get to
	// queue their envelopes, so under load a frame carries many of them
	// (on loopback a write is so fast that otherwise the queue never
	// builds up). When idle nothing else is runnable and this costs ~100ns.
	runtime.Gosched()
	batch := c.take()
	defer c.give(batch)
	if len(batch) == 0 {
		return nil
	}
	if !c.m.allowed(c.m.cfg.Name, c.remote) {
		c.m.stats.dropped.Add(int64(len(batch)))
		return nil
	}
	for rest := batch; len(rest) > 0; {
		n := fitFrame(rest, c.m.cfg.MaxFrameBytes)
		if err := c.writeFrame(rest[:n]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		c.m.stats.framesOut.Add(1)
		c.m.stats.envelopesOut.Add(int64(n))
		rest = rest[n:]
	}
	return nil
}

// fitFrame returns how many envelopes from the front of batch fit in one
// frame of at most limit bytes; always at least one (enqueue refuses
// envelopes that could never fit).
func fitFrame(batch [][]byte, limit int64) int {
	size := int64(frameOverhead)
	for i, env := range batch {
		size += int64(len(env)) + envelopeOverhead
		if size > limit && i > 0 {
			return i
		}
	}
	return len(batch)
}

func (c *conn) writeFrame(envs [][]byte) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	if c.codec == codecBinary {
		return c.writeBinFrame(envs)
	}
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	sep := []byte{'['}
	for _, env := range envs {
		if _, err := w.Write(sep); err != nil {
			return err
		}
		sep[0] = ','
		if _, err := w.Write(env); err != nil {
			return err
		}
	}
	if _, err := w.Write([]byte{']'}); err != nil {
		return err
	}
	return w.Close()
}

// writeBinFrame writes a version 2 frame: the version, then each envelope
// after its length.
func (c *conn) writeBinFrame(envs [][]byte) error {
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = codecBinary
	if _, err := w.Write(hdr[:1]); err != nil {
		return err
	}
	for _, env := range envs {
		n := binary.PutUvarint(hdr[:], uint64(len(env)))
		if _, err := w.Write(hdr[:n]); err != nil {
			return err
		}
		if _, err := w.Write(env); err != nil {
			return err
		}
	}
	return w.Close()
}

// readLoop is the only goroutine that reads from the socket. Any frame,
// ping or pong from the peer proves it alive; three ping intervals of
// silence close the connection. Pings are not answered with pongs: both
// sides ping, so neither needs to write from this goroutine.
func (c *conn) readLoop() {
	c.ws.SetReadLimit(c.m.cfg.MaxFrameBytes)
	alive := func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(3 * c.m.cfg.PingInterval))
	}
	c.ws.SetPingHandler(alive)
	c.ws.SetPongHandler(alive)
	for {
		_ = alive("")
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.close(fmt.Errorf("read: %w", err))
			return
		}
		c.m.stats.framesIn.Add(1)
		if !c.m.allowed(c.remote, c.m.cfg.Name) {
			c.m.stats.dropped.Add(1)
			continue
		}
		// The frame's type says its codec, whatever was negotiated: the
		// reader needs no state, and each side may write either.
		decode := decodeFrame
		if typ == websocket.BinaryMessage {
			decode = decodeBinFrame
		}
		envs, err := decode(data)
		if err != nil {
			// Nothing in it can be answered; the calls it carried time out.
			// The connection stays: no frame may cut a link.
			c.m.stats.badEnvelopes.Add(1)
			c.m.log.Warn("link: unreadable frame from peer dropped", "peer", c.remote, "bytes", len(data), "err", err)
			continue
		}
		for _, e := range envs {
			if e.bad != nil {
				c.refuse(e)
				continue
			}
			if !c.dispatch(e) {
				return
			}
		}
	}
}

// refuse fails the one call an undecodable envelope belongs to: a request
// is answered with the error (its handler never runs), the caller waiting
// for an answer gets it. The connection and every other call on it go on.
func (c *conn) refuse(e envelope) {
	c.m.stats.badEnvelopes.Add(1)
	switch {
	case e.M != "" && e.I != 0:
		err := shardgate.Errorf(shardgate.KindInvalid, "link: %s could not decode request %s: %w", c.m.cfg.Name, e.M, e.bad)
		if qerr := c.enqueue(c.errorEnvelope(e.I, err)); qerr != nil && c.ctx.Err() == nil {
			c.m.log.Warn("link: refusal dropped", "peer", c.remote, "method", e.M, "err", qerr)
		}
	case e.M == "" && e.I != 0:
		c.answer(e.I, reply{err: shardgate.Errorf(shardgate.KindInternal, "link: the answer from %s could not be decoded: %w", c.remote, e.bad)})
	}
	c.m.log.Warn("link: undecodable envelope from peer", "peer", c.remote, "id", e.I, "method", e.M, "err", e.bad)
}

// dispatch routes one envelope; false means the connection is closing.
func (c *conn) dispatch(e envelope) bool {
	switch {
	case e.M == "":
		c.resolve(e)
	case e.I == 0:
		c.queueNote(e)
	default:
		select {
		case c.m.sem <- struct{}{}:
		case <-c.ctx.Done():
			return false
		}
		c.m.wg.Add(1) // safe: this goroutine is itself counted
		go func() {
			defer c.m.wg.Done()
			defer func() { <-c.m.sem }()
			c.serve(e)
		}()
	}
	return true
}

// serve runs the handler for one request and queues its answer.
func (c *conn) serve(e envelope) {
	res, err := c.m.invoke(c.ctx, c.remote, e.M, e.B)
	var env []byte
	if err == nil {
		env, err = c.resultEnvelope(e.I, e.M, res)
	}
	if err != nil {
		env = c.errorEnvelope(e.I, err)
	}
	qerr := c.enqueue(env)
	if shardgate.KindOf(qerr) == shardgate.KindTooLarge {
		putBuf(env)
		qerr = c.enqueue(c.errorEnvelope(e.I, qerr))
	}
	if qerr != nil && c.ctx.Err() == nil {
		c.m.log.Warn("link: answer dropped", "peer", c.remote, "method", e.M, "err", qerr)
	}
}

// queueNote hands a notification to the connection's notes goroutine,
// started on demand, which runs them one at a time in arrival order: the
// order in which the peer sent them.
func (c *conn) queueNote(e envelope) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.notes) >= c.m.cfg.QueueSize || (len(c.notes) > 0 && c.noted+int64(len(e.B)) > c.m.cfg.QueueBytes) {
		c.mu.Unlock()
		c.m.stats.dropped.Add(1)
		c.m.log.Warn("link: notification dropped, handler too slow", "peer", c.remote, "method", e.M)
		return
	}
	c.notes = append(c.notes, e)
	c.noted += int64(len(e.B))
	start := !c.noting
	c.noting = true
	c.mu.Unlock()
	if start {
		c.m.wg.Add(1) // safe: called from the counted reader goroutine
		go c.runNotes()
	}
}

func (c *conn) runNotes() {
	defer c.m.wg.Done()
	for {
		c.mu.Lock()
		batch := c.notes
		c.notes = nil
		c.noted = 0
		if len(batch) == 0 || c.closed {
			c.noting = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, e := range batch {
			if c.ctx.Err() != nil {
				break
			}
			if _, err := c.m.invoke(c.ctx, c.remote, e.M, e.B); err != nil {
				c.m.log.Debug("link: notification handler failed", "peer", c.remote, "method", e.M, "err", err)
			}
		}
	}
}
