package conn

import (
	"encoding/json"
	"fmt"

	"github.com/shardgate/shardgate"
)

// Request limits beyond the frame size.
const (
	maxIDBytes      = 256 // idempotency keys are stored with the message
	maxPresenceKeys = 256
	reasonExpired   = "token expired"
)

// answer runs one admitted request on the handler goroutine and returns
// its response; expired says the token has expired, after which the
// connection is closed with 4001 once the answer is queued.
func (c *conn) answer(req request) (result any, rerr *rpcError, expired bool) {
	if c.claims.expired(c.s.auth.now()) {
		return nil, &rpcError{shardgate.CodeUnauthorized, "token expired: reconnect with a new one"}, true
	}
	result, err := c.call(req)
	if err != nil {
		rerr := toRPCError(err)
		if rerr.Code == shardgate.CodeInternal {
			c.s.log.Warn("client request failed", "key", c.key, "method", req.Method, "err", err)
		}
		return nil, rerr, false
	}
	return result, nil, false
}

// call runs one method.
func (c *conn) call(req request) (any, error) {
	switch req.Method {
	case "send":
		return c.send(req.Params)
	case "history":
		return c.history(req.Params)
	case "ack":
		return c.ack(req.Params)
	case "subscribe", "unsubscribe":
		return c.subscription(req.Method, req.Params)
	case "publish":
		return c.publish(req.Params)
	case "presence":
		return c.presence(req.Params)
	}
	return nil, &rpcError{shardgate.CodeMethodNotFound, fmt.Sprintf("method %q does not exist: use send, history, ack, subscribe, unsubscribe, publish or presence", truncateReason(req.Method))}
}

func (c *conn) send(params json.RawMessage) (any, error) {
	var p struct {
		To   string          `json:"to"`
		Data json.RawMessage `json:"data"`
		ID   string          `json:"id"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.To == "" && !hasMember(params, "to") {
		return nil, invalidParams("params.to is required")
	}
	if err := shardgate.ValidKey(p.To); err != nil {
		return nil, invalidParams("params.to: " + shardgate.UserMessage(err))
	}
	if len(p.Data) == 0 {
		return nil, invalidParams("params.data is required")
	}
	if len(p.ID) > maxIDBytes {
		return nil, invalidParams(fmt.Sprintf("params.id is %d bytes, the limit is %d", len(p.ID), maxIDBytes))
	}
	if !c.claims.CanSend(p.To) {
		return nil, shardgate.Errorf(shardgate.KindForbidden, "forbidden: your token does not allow sending to %q", p.To)
	}
	if err := c.sendQuota(); err != nil {
		return nil, err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	return c.s.backend.Send(ctx, c.key, p.To, p.Data, p.ID)
}

// sendQuota takes one send from the key's quota, shared by all its
// connections on this node.
func (c *conn) sendQuota() error {
	if c.sendLim == nil || c.sendLim.Allow() {
		return nil
	}
	c.s.m.RateLimited.Inc()
	return shardgate.Errorf(shardgate.KindRateLimited, "rate limited: %q may send at most %v messages per second over all its connections to this node", c.key, c.s.cfg.UserSendRate)
}

func (c *conn) history(params json.RawMessage) (any, error) {
	var p struct {
		Since uint64 `json:"since"`
		Limit *int   `json:"limit"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	limit := c.s.cfg.HistoryPage
	if p.Limit != nil {
		if *p.Limit < 1 {
			return nil, invalidParams(fmt.Sprintf("params.limit must be at least 1, got %d", *p.Limit))
		}
		limit = min(*p.Limit, limit)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	res, err := c.s.backend.History(ctx, c.key, p.Since, limit)
	if res.Messages == nil {
		res.Messages = []shardgate.Message{} // [] rather than null for clients
	}
	return res, err
}

func (c *conn) ack(params json.RawMessage) (any, error) {
	var p struct {
		Seq *uint64 `json:"seq"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.Seq == nil {
		return nil, invalidParams("params.seq is required")
	}
	ctx, cancel := c.ctx()
	defer cancel()
	return struct{}{}, c.s.backend.Ack(ctx, c.key, *p.Seq)
}

func (c *conn) subscription(method string, params json.RawMessage) (any, error) {
	var p struct {
		Topic string `json:"topic"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := validTopic(p.Topic); err != nil {
		return nil, err
	}
	if method == "unsubscribe" {
		c.s.unsubscribe(c, p.Topic)
		return struct{}{}, nil
	}
	if !c.claims.CanSubscribe(p.Topic) {
		return nil, shardgate.Errorf(shardgate.KindForbidden, "forbidden: your token does not allow subscribing to %q", p.Topic)
	}
	if err := c.s.subscribe(c, p.Topic); err != nil {
		return nil, err
	}
	c.s.awaitInterest(p.Topic)
	return struct{}{}, nil
}

func (c *conn) publish(params json.RawMessage) (any, error) {
	var p struct {
		Topic string          `json:"topic"`
		Data  json.RawMessage `json:"data"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := validTopic(p.Topic); err != nil {
		return nil, err
	}
	if len(p.Data) == 0 {
		return nil, invalidParams("params.data is required")
	}
	if !c.claims.CanPublish(p.Topic) {
		return nil, shardgate.Errorf(shardgate.KindForbidden, "forbidden: your token does not allow publishing to %q", p.Topic)
	}
	if err := c.sendQuota(); err != nil {
		return nil, err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	n, err := c.s.backend.Publish(ctx, c.key, p.Topic, p.Data)
	return map[string]int{"delivered_nodes": n}, err
}

func (c *conn) presence(params json.RawMessage) (any, error) {
	var p struct {
		Keys []string `json:"keys"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if len(p.Keys) == 0 {
		return nil, invalidParams("params.keys must list at least one key")
	}
	if len(p.Keys) > maxPresenceKeys {
		return nil, invalidParams(fmt.Sprintf("params.keys lists %d keys, the limit is %d", len(p.Keys), maxPresenceKeys))
	}
	for _, k := range p.Keys {
		if err := shardgate.ValidKey(k); err != nil {
			return nil, invalidParams(fmt.Sprintf("params.keys: %q: %s", truncateReason(k), shardgate.UserMessage(err)))
		}
	}
	ctx, cancel := c.ctx()
	defer cancel()
	res, err := c.s.backend.Presence(ctx, p.Keys)
	if res == nil {
		res = map[string]shardgate.Presence{}
	}
	return res, err
}
