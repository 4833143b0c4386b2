package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// inbound is any server frame: a response (ID set) or a notification
// (Method set).
type inbound struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// readLoop is the client's one reader: it routes responses to their
// callers and notifications to the channels until the connection ends.
func (c *Conn) readLoop() {
	defer c.finish()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.setCloseCode(err)
			return
		}
		c.extendIdle()
		for _, in := range decodeFrame(data) {
			if in.Method != "" && c.onNotify != nil {
				c.onNotify(in)
			} else if in.Method != "" {
				c.notify(in)
			} else {
				c.resolve(in)
			}
		}
	}
}

// extendIdle pushes the idle deadline out: the node is alive.
func (c *Conn) extendIdle() {
	if c.idle > 0 {
		c.ws.SetReadDeadline(time.Now().Add(c.idle))
	}
}

// onPing answers a node's ping (what gorilla's default handler does) and
// counts it as a sign of life.
func (c *Conn) onPing(data string) error {
	c.extendIdle()
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	var ne net.Error
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	return err
}

// decodeFrame reads one server frame: a single JSON-RPC object, or a batch
// (a JSON array of them), which a server may send to put several
// notifications in one frame. Undecodable frames and members are skipped:
// they are not the client's to fix.
func decodeFrame(data []byte) []inbound {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) > 0 && data[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(data, &batch) != nil {
			return nil
		}
		out := make([]inbound, 0, len(batch))
		for _, raw := range batch {
			var in inbound
			if json.Unmarshal(raw, &in) == nil {
				out = append(out, in)
			}
		}
		return out
	}
	var in inbound
	if json.Unmarshal(data, &in) != nil {
		return nil
	}
	return []inbound{in}
}

func (c *Conn) notify(in inbound) {
	switch in.Method {
	case "message":
		var m shardgate.Message
		if json.Unmarshal(in.Params, &m) != nil {
			return
		}
		// Counted before the hand-over (a reader may ask right after it),
		// and taken back if Close drops the message, so a resume with
		// Since: LastSeq() never skips it. Only this goroutine writes it.
		prev := c.lastSeq.Load()
		if m.Seq > prev {
			c.lastSeq.Store(m.Seq)
		}
		select {
		case c.msgs <- m:
		case <-c.closing:
			c.lastSeq.Store(prev)
		}
	case "publication":
		var p shardgate.Publication
		if json.Unmarshal(in.Params, &p) != nil {
			return
		}
		select {
		case c.pubs <- p:
		case <-c.closing:
		}
	case "moved":
		var h MovedHint
		if json.Unmarshal(in.Params, &h) != nil {
			return
		}
		select {
		case c.moved <- h:
		default:
		}
	}
}

func (c *Conn) resolve(in inbound) {
	id, err := strconv.ParseUint(string(in.ID), 10, 64)
	if err != nil {
		return // an error about a frame we did not send as a call
	}
	c.mu.Lock()
	ch, ok := c.calls[id]
	delete(c.calls, id)
	c.mu.Unlock()
	if ok {
		ch <- in // buffered: never blocks
	}
}

func (c *Conn) setCloseCode(err error) {
	code := websocket.CloseAbnormalClosure
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		code = ce.Code
	}
	c.mu.Lock()
	c.closeCode = code
	c.mu.Unlock()
}

// finish runs once the reader has ended: waiting callers get ErrClosed and
// the notification channels close, so range loops end.
func (c *Conn) finish() {
	c.ws.Close()
	close(c.done)
	close(c.msgs)
	close(c.pubs)
	close(c.moved)
}

// closedErr says how the connection ended.
func (c *Conn) closedErr() error {
	return fmt.Errorf("%w (close code %d)", ErrClosed, c.CloseCode())
}
