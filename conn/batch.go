package conn

import "github.com/gorilla/websocket"

// noticeRun returns the end of the run of notifications that starts at
// batch[i] and fits, as a JSON array, in maxBytes (at least one frame, and
// i+1 when batch[i] is no notification).
func noticeRun(batch []frame, i, maxBytes int) int {
	if !batch[i].isNotice() {
		return i + 1
	}
	size := len(batch[i].data) + 2 // the brackets
	end := i + 1
	for end < len(batch) && batch[end].isNotice() && size+1+len(batch[end].data) <= maxBytes {
		size += 1 + len(batch[end].data)
		end++
	}
	return end
}

// onlyNotices reports whether every frame of q may share a frame.
func onlyNotices(q []frame) bool {
	for _, f := range q {
		if !f.isNotice() {
			return false
		}
	}
	return true
}

// isNotice reports whether f is a notification that may share a frame.
func (f frame) isNotice() bool {
	return (f.kind == frameNotice || f.kind == framePrepared) && len(f.data) > 0
}

// writeNotices sends run as one JSON-RPC batch frame. The array is built in
// a buffer the writer keeps, so the frame leaves in one write.
func (c *conn) writeNotices(run []frame) error {
	b := c.batchBuf[:0]
	b = append(b, '[')
	for k, f := range run {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, f.data...)
	}
	b = append(b, ']')
	if cap(b) <= 2*c.s.cfg.MaxBatchBytes {
		c.batchBuf = b // only the writer goroutine touches it
	}
	c.ws.SetWriteDeadline(deadline(c.s.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return err
	}
	c.s.m.MessagesOut.Add(float64(len(run)))
	return nil
}
