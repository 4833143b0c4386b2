package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
)

// Request shapes of the node-link methods that forward client calls.
type sendReq struct {
	From string          `json:"from"`
	To   string          `json:"to"`
	Data json.RawMessage `json:"data"`
	ID   string          `json:"id,omitempty"`
	// Attempt names this Send call: its internal retries carry the same
	// value, so a retry of a write left in doubt reuses its seq.
	Attempt string `json:"attempt,omitempty"`
	// WaitMS is how long the caller still waits for the answer; the home
	// does not store a write its caller has given up on.
	WaitMS int64 `json:"wait_ms,omitempty"`
}

type historyReq struct {
	Key   string `json:"key"`
	Since uint64 `json:"since"`
	Limit int    `json:"limit"`
}

type ackReq struct {
	Key string `json:"key"`
	Seq uint64 `json:"seq"`
}

type keyReq struct {
	Key string `json:"key"`
}

type attachReq struct {
	Key   string `json:"key"`
	Node  string `json:"node"`
	Count int    `json:"count"`
}

type attachResp struct {
	Shard    int    `json:"shard"`
	LastSeq  uint64 `json:"last_seq"`
	FirstSeq uint64 `json:"first_seq"`
}

type presenceReq struct {
	Keys []string `json:"keys"`
}

// Send stores a message in to's inbox and returns its seq once every holder
// of to's shard has committed it.
func (n *Node) Send(ctx context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error) {
	if err := shardgate.ValidKey(to); err != nil {
		return shardgate.SendResult{}, err
	}
	if len(data) == 0 {
		return shardgate.SendResult{}, shardgate.Errorf(shardgate.KindInvalid, "data is required")
	}
	if err := n.serving(); err != nil {
		return shardgate.SendResult{}, err
	}
	req := sendReq{From: from, To: to, Data: data, ID: id, Attempt: newAttemptID()}
	var res shardgate.SendResult
	err := n.routeCall(ctx, n.keys.ShardOf(to), methodSend, req, (*sendResult)(&res), func(ctx context.Context) error {
		var err error
		res, err = n.localSend(ctx, req)
		return err
	})
	return res, err
}

func (n *Node) localSend(ctx context.Context, r sendReq) (shardgate.SendResult, error) {
	p, err := n.primaryFor(n.keys.ShardOf(r.To))
	if err != nil {
		return shardgate.SendResult{}, err
	}
	// The storage limit and a full disk are checked on the home, before a
	// seq is given out: a refused send leaves nothing anywhere. Backups
	// follow their home.
	if err := n.writable(); err != nil {
		return shardgate.SendResult{}, err
	}
	if r.WaitMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(r.WaitMS)*time.Millisecond)
		defer cancel()
	}
	seq, err := p.submit(ctx, &writeReq{kind: writeSend, key: r.To, from: r.From, data: r.Data, id: r.ID, attempt: r.Attempt, start: time.Now()})
	return shardgate.SendResult{To: r.To, Seq: seq}, err
}

// History reads key's inbox after since, oldest first.
func (n *Node) History(ctx context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error) {
	if err := shardgate.ValidKey(key); err != nil {
		return shardgate.HistoryResult{}, err
	}
	req := historyReq{Key: key, Since: since, Limit: limit}
	var res shardgate.HistoryResult
	err := n.routeCall(ctx, n.keys.ShardOf(key), methodHistory, req, &res, func(context.Context) error {
		var err error
		res, err = n.localHistory(req)
		return err
	})
	return res, err
}

func (n *Node) localHistory(r historyReq) (shardgate.HistoryResult, error) {
	id := n.keys.ShardOf(r.Key)
	if err := n.localRead(id); err != nil {
		return shardgate.HistoryResult{}, err
	}
	return n.st.History(id, r.Key, r.Since, r.Limit)
}

// Ack stores key's read cursor, replicated like a message.
func (n *Node) Ack(ctx context.Context, key string, seq uint64) error {
	if err := shardgate.ValidKey(key); err != nil {
		return err
	}
	if err := n.serving(); err != nil {
		return err
	}
	req := ackReq{Key: key, Seq: seq}
	return n.routeCall(ctx, n.keys.ShardOf(key), methodAck, req, nil, func(ctx context.Context) error { return n.localAck(ctx, req) })
}

func (n *Node) localAck(ctx context.Context, r ackReq) error {
	id := n.keys.ShardOf(r.Key)
	p, err := n.primaryFor(id)
	if err != nil {
		return err
	}
	// A client acks what it was delivered, and only committed messages are
	// delivered: a seq beyond the stored inbox is a client bug that would
	// otherwise silence every later connection without since.
	last, err := n.st.LastSeq(id, r.Key)
	if err != nil {
		return fmt.Errorf("node: ack of %q: %w", r.Key, err)
	}
	if r.Seq > last {
		return shardgate.Errorf(shardgate.KindInvalid, "ack seq %d is beyond the last seq %d of the inbox", r.Seq, last)
	}
	_, err = p.submit(ctx, &writeReq{kind: writeAck, key: r.Key, seq: r.Seq, start: time.Now()})
	return err
}

// Cursor returns key's stored read cursor.
func (n *Node) Cursor(ctx context.Context, key string) (uint64, error) {
	var res uint64
	id := n.keys.ShardOf(key)
	err := n.routeCall(ctx, id, methodCursor, keyReq{Key: key}, &res, func(context.Context) error {
		if err := n.localRead(id); err != nil {
			return err
		}
		var err error
		res, err = n.st.Cursor(id, key)
		return err
	})
	return res, err
}

// Presence answers for each key whether it has connections anywhere.
func (n *Node) Presence(ctx context.Context, keys []string) (map[string]shardgate.Presence, error) {
	byShard := map[int][]string{}
	for _, k := range keys {
		if err := shardgate.ValidKey(k); err != nil {
			return nil, err
		}
		id := n.keys.ShardOf(k)
		byShard[id] = append(byShard[id], k)
	}
	out := make(map[string]shardgate.Presence, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for id, ks := range byShard {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res map[string]shardgate.Presence
			err := n.routeCall(ctx, id, methodPresence, presenceReq{Keys: ks}, &res, func(context.Context) error {
				var err error
				res, err = n.localPresence(presenceReq{Keys: ks})
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			for k, v := range res {
				out[k] = v
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func (n *Node) localPresence(r presenceReq) (map[string]shardgate.Presence, error) {
	out := map[string]shardgate.Presence{}
	for _, k := range r.Keys {
		if err := n.localRead(n.keys.ShardOf(k)); err != nil {
			return nil, err
		}
		out[k] = n.conns.presence(k)
	}
	return out, nil
}
