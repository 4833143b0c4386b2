package node

import (
	"context"
	"encoding/json"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link/wire"
)

// Node-link methods. Forwarded client calls run only locally on the
// receiver: if it is no longer the home, the caller retries with a newer
// table rather than the request bouncing between nodes.
const (
	methodSend      = "send"
	methodHistory   = "history"
	methodAck       = "ack"
	methodCursor    = "cursor"
	methodPresence  = "presence"
	methodAttach    = "attach"
	methodDeliver   = "deliver"
	methodReattach  = "reattach"
	methodPing      = "ping"
	methodPublish   = "publish"
	methodReplicate = "replicate"
	methodSnapshot  = "snapshot"
	methodMarks     = "marks"
	methodHeldRead  = "held_read"
	methodCopied    = "copied"
	methodTable     = "table"
	methodGetTable  = "get_table"
	methodPropose   = "propose"
	methodStats     = "stats"
	methodAdmin     = "admin"
	methodDrain     = "drain"
	methodReadmit   = "readmit"
	methodRecord    = "record"
	methodGetEvents = "get_events"
)

func decode[T any](body json.RawMessage) (T, error) {
	var v T
	if err := wire.Decode(body, &v); err != nil {
		return v, shardgate.Errorf(shardgate.KindInvalid, "bad request body: %w", err)
	}
	return v, nil
}

// HandleLink serves a request from peer `from` (it implements link.Handler)
// with the handler the part serving method registered.
func (n *Node) HandleLink(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	return n.mux.serve(ctx, from, method, body)
}

// linkRoutes are the node-link methods the assembly serves itself: client
// calls forwarded to this home, deliveries to this node's connections, the
// table and this node's own state.
func (n *Node) linkRoutes() []linkRoute {
	return []linkRoute{
		{methodSend, typed(func(ctx context.Context, _ string, r sendReq) (any, error) {
			res, err := n.localSend(ctx, r)
			return sendResult(res), err
		})},
		{methodHistory, typed(func(_ context.Context, _ string, r historyReq) (any, error) { return n.localHistory(r) })},
		{methodAck, typed(func(ctx context.Context, _ string, r ackReq) (any, error) { return done(n.localAck(ctx, r)) })},
		{methodCursor, typed(func(_ context.Context, _ string, r keyReq) (any, error) {
			id := n.keys.ShardOf(r.Key)
			if err := n.localRead(id); err != nil {
				return nil, err
			}
			return n.st.Cursor(id, r.Key)
		})},
		{methodPresence, typed(func(_ context.Context, _ string, r presenceReq) (any, error) { return n.localPresence(r) })},
		{methodPing, func(context.Context, string, json.RawMessage) (any, error) { return struct{}{}, nil }},
		{methodTable, typed(func(_ context.Context, from string, r tableMsg) (any, error) {
			_, err := n.installTable(r.Table, r.Reason, from)
			return done(err)
		})},
		{methodPropose, typed(func(_ context.Context, _ string, r tableMsg) (any, error) {
			if cur := n.currentTable(); !newer(r.Table, cur) {
				return nil, shardgate.Errorf(shardgate.KindConflict, "proposed table v%d is not newer than v%d held by %s", r.Table.Version, cur.Version, n.name)
			}
			return struct{}{}, nil
		})},
		{methodGetTable, func(context.Context, string, json.RawMessage) (any, error) { return n.currentTable(), nil }},
		{methodStats, typed(func(_ context.Context, from string, r nodeStats) (any, error) {
			n.stats.put(from, r)
			n.health.setReport(from, r.Unreachable, n.cfg.Now())
			n.health.setCut(from, r.Cut, n.cfg.Now())
			return struct{}{}, nil
		})},
		{methodDrain, typed(func(ctx context.Context, from string, r drainReq) (any, error) {
			if r.Reason == "" {
				r.Reason = "drain requested by " + from
			}
			return n.startDrain(ctx, r)
		})},
		{methodReadmit, func(ctx context.Context, _ string, _ json.RawMessage) (any, error) { return done(n.readmitSelf(ctx)) }},
	}
}
