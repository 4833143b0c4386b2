package node

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shardgate/shardgate"
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
	if err := json.Unmarshal(body, &v); err != nil {
		return v, shardgate.Errorf(shardgate.KindInvalid, "bad request body: %w", err)
	}
	return v, nil
}

// HandleLink serves a request from peer `from` (it implements link.Handler).
func (n *Node) HandleLink(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	switch method {
	case methodSend:
		r, err := decode[sendReq](body)
		if err != nil {
			return nil, err
		}
		return n.localSend(ctx, r)
	case methodHistory:
		r, err := decode[historyReq](body)
		if err != nil {
			return nil, err
		}
		return n.localHistory(r)
	case methodAck:
		r, err := decode[ackReq](body)
		if err != nil {
			return nil, err
		}
		return struct{}{}, n.localAck(ctx, r)
	case methodCursor:
		r, err := decode[keyReq](body)
		if err != nil {
			return nil, err
		}
		id := n.cfg.Shard.ShardOf(r.Key)
		if err := n.localRead(id); err != nil {
			return nil, err
		}
		return n.st.Cursor(id, r.Key)
	case methodPresence:
		r, err := decode[presenceReq](body)
		if err != nil {
			return nil, err
		}
		return n.localPresence(r)
	case methodAttach:
		r, err := decode[attachReq](body)
		if err != nil {
			return nil, err
		}
		return n.localAttach(r)
	case methodDeliver:
		r, err := decode[deliverMsg](body)
		if err != nil {
			return nil, err
		}
		if len(r.Msgs) > 0 {
			n.deliverer().Deliver(r.Key, r.Msgs)
		}
		if r.LastSeq > 0 {
			n.deliverer().CatchUp(r.Key, r.LastSeq)
		}
		return struct{}{}, nil
	case methodReattach:
		n.reattachHomedOn(from)
		return struct{}{}, nil
	case methodPing:
		return struct{}{}, nil
	case methodPublish:
		r, err := decode[shardgate.Publication](body)
		if err != nil {
			return nil, err
		}
		return n.deliverer().DeliverPublication(r), nil
	}
	return n.handleCluster(ctx, from, method, body)
}

// handleCluster serves the methods nodes use to run the cluster itself.
func (n *Node) handleCluster(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	switch method {
	case methodReplicate:
		r, err := decode[replicateReq](body)
		if err != nil {
			return nil, err
		}
		return n.replica.replicate(ctx, from, r)
	case methodSnapshot:
		r, err := decode[snapshotReq](body)
		if err != nil {
			return nil, err
		}
		return struct{}{}, n.replica.snapshot(ctx, from, r)
	case methodCopied:
		r, err := decode[copiedReq](body)
		if err != nil {
			return nil, err
		}
		n.coord.copiedReport(r)
		return struct{}{}, nil
	case methodTable:
		r, err := decode[tableMsg](body)
		if err != nil {
			return nil, err
		}
		_, err = n.installTable(r.Table, r.Reason, from)
		return struct{}{}, err
	case methodPropose:
		r, err := decode[tableMsg](body)
		if err != nil {
			return nil, err
		}
		if cur := n.currentTable(); !newer(r.Table, cur) {
			return nil, shardgate.Errorf(shardgate.KindConflict, "proposed table v%d is not newer than v%d held by %s", r.Table.Version, cur.Version, n.name)
		}
		return struct{}{}, nil
	case methodGetTable:
		return n.currentTable(), nil
	case methodStats:
		r, err := decode[nodeStats](body)
		if err != nil {
			return nil, err
		}
		n.stats.put(from, r)
		n.health.setReport(from, r.Unreachable, time.Now())
		return struct{}{}, nil
	case methodAdmin:
		r, err := decode[shardgate.Action](body)
		if err != nil {
			return nil, err
		}
		return n.coord.act(ctx, r)
	}
	return n.handleOps(ctx, from, method, body)
}

// handleOps serves the methods of operator actions and the event log.
func (n *Node) handleOps(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	switch method {
	case methodDrain:
		r, err := decode[drainReq](body)
		if err != nil {
			return nil, err
		}
		if r.Reason == "" {
			r.Reason = "drain requested by " + from
		}
		return n.startDrain(ctx, r)
	case methodReadmit:
		return struct{}{}, n.readmitSelf(ctx)
	case methodRecord:
		r, err := decode[shardgate.LogEntry](body)
		if err != nil {
			return nil, err
		}
		if n.coordinatorName() != n.name {
			return nil, shardgate.Errorf(shardgate.KindUnavailable, "%s is not the coordinator", n.name)
		}
		n.coord.record(r)
		return struct{}{}, nil
	case methodGetEvents:
		r, err := decode[eventsReq](body)
		if err != nil {
			return nil, err
		}
		return n.evlog.read(r.Since, min(max(r.Limit, 1), 512))
	}
	return nil, shardgate.Errorf(shardgate.KindNotFound, "unknown node-link method %q", method)
}
