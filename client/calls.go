package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

// call sends one request and waits for its response, decoding the result
// into out (when not nil). JSON-RPC errors come back as *RPCError.
func (c *Conn) call(ctx context.Context, method string, params, out any) error {
	b, ch, id, err := c.prepare(method, params)
	if err != nil {
		return err
	}
	defer c.forget(id)
	if err := c.write(ctx, b); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var in inbound
	select {
	case in = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	case <-c.done:
		select {
		case in = <-ch: // answered just before the end
		default:
			return fmt.Errorf("%s: %w", method, c.closedErr())
		}
	}
	if in.Error != nil {
		return in.Error
	}
	if out != nil {
		if err := json.Unmarshal(in.Result, out); err != nil {
			return fmt.Errorf("%s: bad result: %w", method, err)
		}
	}
	return nil
}

func (c *Conn) prepare(method string, params any) ([]byte, chan inbound, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return nil, nil, 0, fmt.Errorf("%s: %w", method, c.closedErrLocked())
	default:
	}
	c.nextID++
	b, err := json.Marshal(request{JSONRPC: "2.0", ID: c.nextID, Method: method, Params: params})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: encode params: %w", method, err)
	}
	ch := make(chan inbound, 1)
	c.calls[c.nextID] = ch
	return b, ch, c.nextID, nil
}

func (c *Conn) closedErrLocked() error {
	return fmt.Errorf("%w (close code %d)", ErrClosed, c.closeCode)
}

func (c *Conn) forget(id uint64) {
	c.mu.Lock()
	delete(c.calls, id)
	c.mu.Unlock()
}

// writeTimeout bounds one frame's write. A write that fails, a timeout
// included, leaves the WebSocket unusable for good (gorilla keeps the
// error), so it is never bounded by a caller's deadline, which may be a
// few milliseconds or already past: only a peer that has stopped reading
// for this long makes a write fail, and the connection is then closed so
// that it is seen as gone.
const writeTimeout = 10 * time.Second

// write sends one frame unless ctx is already done (nothing is sent then).
// It may outlast ctx by up to writeTimeout when the peer does not read.
func (c *Conn) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.ws.NetConn().Close() // the reader ends, and with it the connection
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

// Send stores data (any JSON-encodable value; json.RawMessage passes
// through) in to's inbox and returns its seq once it is durable. A non-empty
// id makes retries safe: the same id returns the first result.
func (c *Conn) Send(ctx context.Context, to string, data any, id string) (shardgate.SendResult, error) {
	var r shardgate.SendResult
	err := c.call(ctx, "send", struct {
		To   string `json:"to"`
		Data any    `json:"data"`
		ID   string `json:"id,omitempty"`
	}{to, data, id}, &r)
	return r, err
}

// History reads the own inbox after since; limit 0 takes the server's page.
func (c *Conn) History(ctx context.Context, since uint64, limit int) (shardgate.HistoryResult, error) {
	var r shardgate.HistoryResult
	err := c.call(ctx, "history", struct {
		Since uint64 `json:"since"`
		Limit int    `json:"limit,omitempty"`
	}{since, limit}, &r)
	return r, err
}

// Ack stores the read cursor: a later connection without Since resumes
// after seq.
func (c *Conn) Ack(ctx context.Context, seq uint64) error {
	return c.call(ctx, "ack", struct {
		Seq uint64 `json:"seq"`
	}{seq}, nil)
}

// Subscribe starts delivery of topic's publications on Publications.
func (c *Conn) Subscribe(ctx context.Context, topic string) error {
	return c.call(ctx, "subscribe", topicParams{topic}, nil)
}

// Unsubscribe stops it.
func (c *Conn) Unsubscribe(ctx context.Context, topic string) error {
	return c.call(ctx, "unsubscribe", topicParams{topic}, nil)
}

type topicParams struct {
	Topic string `json:"topic"`
}

// Publish fans data out to topic's subscribers (live, at most once) and
// returns how many nodes it reached.
func (c *Conn) Publish(ctx context.Context, topic string, data any) (int, error) {
	var r struct {
		DeliveredNodes int `json:"delivered_nodes"`
	}
	err := c.call(ctx, "publish", struct {
		Topic string `json:"topic"`
		Data  any    `json:"data"`
	}{topic, data}, &r)
	return r.DeliveredNodes, err
}

// Presence reports whether keys are online, cluster-wide.
func (c *Conn) Presence(ctx context.Context, keys ...string) (map[string]shardgate.Presence, error) {
	r := map[string]shardgate.Presence{}
	err := c.call(ctx, "presence", struct {
		Keys []string `json:"keys"`
	}{keys}, &r)
	return r, err
}
