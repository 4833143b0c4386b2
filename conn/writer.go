package conn

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

type frameKind uint8

const (
	frameText     frameKind = iota // data: a JSON-RPC frame (a response, the welcome)
	frameNotice                    // data: a notification; queued ones may share a frame
	framePrepared                  // pm and data: a publication encoded once for all subscribers
	framePing
	framePong  // data: the ping's payload
	frameClose // data: a formatted close message
)

// frame is one queued write.
type frame struct {
	kind frameKind
	data []byte
	pm   *websocket.PreparedMessage
}

// enqueue queues f for the writer and starts one if none is running. It
// never blocks: when the queue is full the client is too slow to keep, and
// it is closed with 4009. It reports whether f was queued.
func (c *conn) enqueue(f frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enqueueLocked(f)
}

// pong queues the answer to a ping. A pong still waiting in the queue takes
// the newer payload instead of another pong joining it: RFC 6455 (5.5.3)
// lets an endpoint answer only the newest of the pings it has not answered
// yet, and a client pinging faster than its socket drains would otherwise
// fill the queue with pongs and be closed as a slow consumer.
func (c *conn) pong(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.queue {
		if c.queue[i].kind == framePong {
			c.queue[i].data = data
			return
		}
	}
	c.enqueueLocked(frame{kind: framePong, data: data})
}

func (c *conn) enqueueLocked(f frame) bool {
	if c.closing || c.closed {
		return false
	}
	if len(c.queue)+c.inflight >= c.s.cfg.SendQueue {
		c.slowConsumerLocked()
		return false
	}
	c.queue = append(c.queue, f)
	if f.kind == frameText {
		c.answers++
		c.answerB += int64(len(f.data))
		c.s.answerBytes.Add(int64(len(f.data)))
	}
	// A response or a control frame does not wait for company, nor does
	// a queue that is filling up: held longer it would overflow.
	if !f.isNotice() || len(c.queue) >= c.s.cfg.SendQueue/4 {
		c.hurryLocked()
	}
	c.startWriterLocked()
	return true
}

// hurryLocked ends the writer's WriteDelay wait, if it is waiting.
func (c *conn) hurryLocked() {
	if c.hurry != nil {
		close(c.hurry)
		c.hurry = nil
	}
}

func (c *conn) slowConsumerLocked() {
	c.s.m.SlowConsumerDrops.Inc()
	c.s.log.Info("closing slow client", "key", c.key, "queued", len(c.queue)+c.inflight)
	c.closing = true
	c.closeCode = closeSlowConsumer
	c.abandon.Store(true)
	c.forgetAnswersLocked(answerBytes(c.queue))
	c.queue = append(c.queue[:0:0], frame{kind: frameClose, data: websocket.FormatCloseMessage(closeSlowConsumer, "slow consumer: send queue overflowed")})
	c.hurryLocked()
	c.startWriterLocked()
}

// enqueueNotice queues a notification for a connection that has been
// welcomed; before that, the welcome frame must come first.
func (c *conn) enqueueNotice(data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready {
		return false
	}
	return c.enqueueLocked(frame{kind: frameNotice, data: data})
}

// reply queues the response to a request.
func (c *conn) reply(id json.RawMessage, result any, rerr *rpcError) {
	b, err := encodeResponse(id, result, rerr)
	if err != nil {
		c.s.log.Error("cannot encode response", "key", c.key, "err", err)
		b, _ = encodeResponse(id, nil, &rpcError{shardgate.CodeInternal, "internal error: the result could not be encoded"})
	}
	c.enqueue(frame{kind: frameText, data: b})
}

func (c *conn) startWriterLocked() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	c.s.wg.Go(c.writeLoop)
}

// writeLoop writes queued frames in batches and exits as soon as the queue
// is empty, so an idle connection parks no writer.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.closed {
			c.writing = false
			c.lingered = false
			c.inflight = 0
			c.forgetAnswersLocked(answerBytes(c.queue))
			c.queue = nil
			c.wakeWaitersLocked()
			c.mu.Unlock()
			return
		}
		if c.lingerLocked() {
			continue
		}
		batch := c.queue
		c.queue = nil
		c.inflight = len(batch)
		answers := 0
		for _, f := range batch {
			if f.kind == frameText {
				answers++
			}
		}
		written := answerBytes(batch) // counted now: writeBatch clears the frames it wrote
		c.mu.Unlock()
		err := c.writeBatch(batch)
		c.mu.Lock()
		c.forgetAnswersLocked(written)
		if err != nil {
			c.mu.Unlock()
			c.writeFailed(err)
			return
		}
		c.inflight = 0
		c.answers = max(0, c.answers-answers) // a close may have reset it meanwhile
		c.wakeWaitersLocked()
		c.mu.Unlock()
	}
}

// lingerLocked waits Config.WriteDelay, without the lock, when only
// notifications are queued, so that the deliveries arriving meanwhile share
// their frame; enqueue cuts the wait short for anything else. It reports
// whether it waited (the caller then looks at the queue again, with the
// lock held). A writer waits once per batch: what arrives while it writes
// starts the next wait.
func (c *conn) lingerLocked() bool {
	d := c.s.cfg.WriteDelay
	if d <= 0 || c.lingered || c.closing || !onlyNotices(c.queue) {
		c.lingered = false
		return false
	}
	hurry := make(chan struct{})
	c.hurry = hurry
	c.mu.Unlock()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-hurry:
		t.Stop()
	}
	c.mu.Lock()
	if c.hurry == hurry {
		c.hurry = nil
	}
	c.lingered = true
	c.mu.Unlock()
	return true
}

// writeBatch writes what the writer took from the queue. Notifications
// queued one after another leave as one frame, a JSON-RPC batch (docs/PROTOCOL.md):
// one write system call for many deliveries to a client that fell behind.
func (c *conn) writeBatch(batch []frame) error {
	for i := 0; i < len(batch); {
		if c.abandon.Load() && batch[i].kind != frameClose {
			batch[i] = frame{}
			i++
			continue
		}
		end := noticeRun(batch, i, c.s.cfg.MaxBatchBytes)
		var err error
		if end-i > 1 {
			err = c.writeNotices(batch[i:end])
		} else {
			err = c.write(batch[i])
		}
		clear(batch[i:end]) // let the GC have written frames early
		if err != nil {
			return err
		}
		i = end
	}
	return nil
}

// write sends one frame under a write deadline.
func (c *conn) write(f frame) error {
	dl := deadline(c.s.cfg.WriteTimeout)
	switch f.kind {
	case framePing:
		return c.ws.WriteControl(websocket.PingMessage, nil, dl)
	case framePong:
		return c.ws.WriteControl(websocket.PongMessage, f.data, dl)
	case frameClose:
		err := c.ws.WriteControl(websocket.CloseMessage, f.data, dl)
		// The peer has a moment to answer; then the reader gives up.
		c.mu.Lock()
		c.ws.SetReadDeadline(time.Now().Add(min(c.s.cfg.WriteTimeout, 5*time.Second)))
		c.mu.Unlock()
		return err
	}
	c.ws.SetWriteDeadline(dl)
	var err error
	if f.kind == framePrepared {
		err = c.ws.WritePreparedMessage(f.pm)
	} else {
		err = c.ws.WriteMessage(websocket.TextMessage, f.data)
	}
	if err == nil {
		c.s.m.MessagesOut.Inc()
	}
	return err
}

// writeFailed ends a connection whose peer cannot be written to: closing
// the socket makes the reader fail and clean up.
func (c *conn) writeFailed(err error) {
	c.mu.Lock()
	c.writing = false
	c.inflight = 0
	c.forgetAnswersLocked(answerBytes(c.queue))
	c.queue = nil
	c.closing = true
	c.wakeWaitersLocked()
	c.mu.Unlock()
	c.s.log.Debug("client write failed", "key", c.key, "err", err)
	c.ws.NetConn().Close()
}

// wakeWaitersLocked releases the filler and the reader when the queue has
// room for them again, or the connection is closing.
func (c *conn) wakeWaitersLocked() {
	done := c.closing || c.closed
	if c.roomWait != nil && (done || c.roomLocked() >= c.s.cfg.HistoryPage) {
		close(c.roomWait)
		c.roomWait = nil
	}
	if c.readWait != nil && (done || !c.answersFullLocked()) {
		close(c.readWait)
		c.readWait = nil
	}
	if c.answerWait != nil && (done || c.answerB < c.s.cfg.AnswerQueueBytes) {
		close(c.answerWait)
		c.answerWait = nil
	}
}

// answerBytes is the size of the answers among frames.
func answerBytes(frames []frame) int64 {
	var n int64
	for _, f := range frames {
		if f.kind == frameText {
			n += int64(len(f.data))
		}
	}
	return n
}

// forgetAnswersLocked takes n bytes of answers, written or dropped, off
// the connection's and the node's count.
func (c *conn) forgetAnswersLocked(n int64) {
	if n == 0 {
		return
	}
	c.answerB -= n
	c.s.answerBytes.Add(-n)
}

// waitForAnswerRoom holds the handler while the answers queued for the
// client reach Config.AnswerQueueBytes, so that a client that asks and
// does not read pins at most that much and one more answer. The writer
// wakes it after every batch; a client that never reads is dropped when
// a write to it times out, which wakes it too. It reports false once the
// connection is closing.
func (c *conn) waitForAnswerRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitWhileLocked(&c.answerWait, func() bool { return c.answerB >= c.s.cfg.AnswerQueueBytes })
	return !c.closing && !c.closed
}

// waitWhileLocked parks the caller, who holds c.mu, on the channel *ch
// (made when needed, closed by wakeWaitersLocked) for as long as blocked
// holds and the connection is not closing.
func (c *conn) waitWhileLocked(ch *chan struct{}, blocked func() bool) {
	for !c.closing && !c.closed && blocked() {
		if *ch == nil {
			*ch = make(chan struct{})
		}
		wait := *ch
		c.mu.Unlock()
		<-wait
		c.mu.Lock()
	}
}

// answersFullLocked reports whether the answers not yet written and the
// requests not yet answered (each will be an answer) take half the send
// queue: the reader then takes no new request until the writer has
// written some, so that a client's own answers never overflow its queue.
// A client that pipelines requests is paced by how fast it reads (the rest
// waits in its socket); one that stops reading is dropped when a write to
// it times out. Notifications do not count: they have the other half, and
// a backlog of them never holds a request back.
func (c *conn) answersFullLocked() bool {
	unanswered, _ := c.reqs.InFlight()
	return c.answers+int(unanswered) >= max(1, c.s.cfg.SendQueue/2)
}

// waitForRoom holds the reader while answersFullLocked. Each request it
// counts becomes an answer, or is dropped when the connection closes; each
// answer is written by a writer that wakes the reader after every batch and
// when it fails or the connection closes, so the wait ends within the
// handler's answer and WriteTimeout.
func (c *conn) waitForRoom() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitWhileLocked(&c.readWait, c.answersFullLocked)
}

// roomLocked is how many frames a replay page may add while leaving half
// the queue for responses and notifications.
func (c *conn) roomLocked() int {
	return c.s.cfg.SendQueue/2 - len(c.queue) - c.inflight
}

func deadline(d time.Duration) time.Time { return time.Now().Add(d) }
