package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
)

// Retryable reports whether a failed call may succeed if tried again: the
// connection was lost or timed out (the call may or may not have taken
// effect), or the server answered 1003 (unavailable: a shard moving, no
// quorum) or 1002 (rate limited). Client retries these itself where that
// is safe; it returns them only when the caller's context ends first.
func Retryable(err error) bool {
	var re *RPCError
	switch {
	case errors.As(err, &re):
		return re.Code == shardgate.CodeUnavailable || re.Code == shardgate.CodeRateLimited
	case errors.Is(err, ErrClientClosed):
		return false
	case errors.Is(err, ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return shardgate.KindOf(err) == shardgate.KindUnavailable
}

// do runs one call on the current connection. With retry, failures that
// Retryable accepts are tried again (after the connection is replaced, or
// after a backoff for an answer like 1003) until ctx ends.
func (c *Client) do(ctx context.Context, method string, retry bool, call func(context.Context, *Conn) error) error {
	c.inflight.Add(1)
	defer c.inflight.Add(-1)
	var last error
	for attempt := 1; ; attempt++ {
		conn, err := c.current(ctx)
		if err != nil {
			if last != nil {
				return fmt.Errorf("%s: %w (last attempt: %w)", method, err, last)
			}
			return fmt.Errorf("%s: %w", method, err)
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		err = call(actx, conn)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retry {
			return err
		}
		if !Retryable(err) {
			if !c.tokenExpired(ctx, err, conn) {
				return err
			}
			// The connection's token ran out: the next one gets a fresh
			// token from TokenFunc, and the call is tried there.
			last = err
			continue
		}
		last = err
		var re *RPCError
		switch {
		case errors.As(err, &re):
			if err := c.waitCtx(ctx, c.cfg.backoff(attempt)); err != nil {
				return fmt.Errorf("%s: %w (last attempt: %w)", method, err, last)
			}
		case errors.Is(err, context.DeadlineExceeded):
			// No answer within CallTimeout: the connection is not to be
			// trusted. Closing it makes the client reconnect.
			c.cfg.Logger.Info("shardgate call timed out: reconnecting", "method", method, "timeout", c.cfg.CallTimeout)
			conn.Close()
		default:
			select { // lost: wait for the supervisor to notice
			case <-conn.Done():
			case <-ctx.Done():
			}
		}
	}
}

// tokenExpired reports whether err is the refusal of a call because the
// connection's token has expired, when a TokenFunc can give a new one. The
// node then closes the connection with 4001; tokenExpired waits a moment
// for that close.
func (c *Client) tokenExpired(ctx context.Context, err error, conn *Conn) bool {
	var re *RPCError
	if c.cfg.TokenFunc == nil || !errors.As(err, &re) || re.Code != shardgate.CodeUnauthorized ||
		!strings.HasPrefix(re.Message, "token expired") {
		return false
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-conn.Done():
		return conn.CloseCode() == closeUnauthorized
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// Send stores data (any JSON-encodable value) in to's inbox and returns
// its seq once it is durable on the recipient's home and backups. A lost
// connection, a timeout or a retryable error is retried with the same id
// until ctx ends, so the message is stored once; an empty id gets a random
// one. Other errors (*RPCError: forbidden, too large, bad params) are
// returned at once.
func (c *Client) Send(ctx context.Context, to string, data any, id string) (shardgate.SendResult, error) {
	if id == "" {
		id = newID()
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return shardgate.SendResult{}, fmt.Errorf("send: encode data: %w", err)
	}
	var r shardgate.SendResult
	err = c.do(ctx, "send", true, func(ctx context.Context, conn *Conn) error {
		var err error
		r, err = conn.Send(ctx, to, json.RawMessage(raw), id)
		return err
	})
	return r, err
}

// History reads the own inbox after since (limit 0: the server's page).
func (c *Client) History(ctx context.Context, since uint64, limit int) (shardgate.HistoryResult, error) {
	var r shardgate.HistoryResult
	err := c.do(ctx, "history", true, func(ctx context.Context, conn *Conn) error {
		var err error
		r, err = conn.History(ctx, since, limit)
		return err
	})
	return r, err
}

// Ack stores the read cursor: a later Client without Since resumes after
// seq. The cursor never moves back, so retries are safe.
func (c *Client) Ack(ctx context.Context, seq uint64) error {
	return c.do(ctx, "ack", true, func(ctx context.Context, conn *Conn) error { return conn.Ack(ctx, seq) })
}

// Subscribe starts delivery of topic's publications, now and on every
// later connection.
func (c *Client) Subscribe(ctx context.Context, topic string) error {
	// Recorded first, so that a connection made while the call is under
	// way subscribes too.
	c.mu.Lock()
	c.topics[topic] = struct{}{}
	c.mu.Unlock()
	err := c.do(ctx, "subscribe", true, func(ctx context.Context, conn *Conn) error { return conn.Subscribe(ctx, topic) })
	if err != nil {
		c.mu.Lock()
		delete(c.topics, topic)
		c.mu.Unlock()
	}
	return err
}

// Unsubscribe stops it.
func (c *Client) Unsubscribe(ctx context.Context, topic string) error {
	c.mu.Lock()
	delete(c.topics, topic)
	c.mu.Unlock()
	return c.do(ctx, "unsubscribe", true, func(ctx context.Context, conn *Conn) error { return conn.Unsubscribe(ctx, topic) })
}

// Publish fans data out to topic's subscribers and returns how many nodes
// it reached. Publications are at most once: a publish whose connection
// is lost is not retried (it may have gone out).
func (c *Client) Publish(ctx context.Context, topic string, data any) (int, error) {
	var n int
	err := c.do(ctx, "publish", false, func(ctx context.Context, conn *Conn) error {
		var err error
		n, err = conn.Publish(ctx, topic, data)
		return err
	})
	return n, err
}

// Presence reports whether keys are online, cluster-wide.
func (c *Client) Presence(ctx context.Context, keys ...string) (map[string]shardgate.Presence, error) {
	var r map[string]shardgate.Presence
	err := c.do(ctx, "presence", true, func(ctx context.Context, conn *Conn) error {
		var err error
		r, err = conn.Presence(ctx, keys...)
		return err
	})
	return r, err
}
