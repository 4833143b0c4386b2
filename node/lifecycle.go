package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
)

// memberLoop turns membership events into link peers, registry clean-up,
// table catch-up and coordinator wake-ups.
func (n *Node) memberLoop() {
	ch := n.mem.Events()
	for {
		select {
		case <-n.ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			n.onMember(e)
		}
	}
}

func (n *Node) onMember(e cluster.Event) {
	m := e.Member
	if m.Name == n.name {
		return
	}
	switch e.Type {
	case cluster.EventJoin, cluster.EventUpdate:
		if m.Meta.WSAddr != "" {
			n.links.SetPeer(m.Name, m.Meta.WSAddr)
			n.wsAddrs.Store(m.Name, m.Meta.WSAddr)
		}
		if e.Type == cluster.EventJoin {
			n.departed.set(m.Name, "")
			// A node that (re)joins may be a new process with no
			// connections, or the same one that failure detection gave
			// up on for a while: forget its connections and ask it for
			// the ones it still holds.
			n.conns.memberJoined(m.Name)
			n.coord.poke("node " + m.Name + " joined")
		} else if m.Meta.State == shardgate.StateDraining {
			n.coord.poke("node " + m.Name + " is draining")
		} else {
			n.coord.poke("")
		}
		if m.Meta.TableVersion > n.currentTable().Version {
			n.goFunc(func() { n.fetchTableFrom(m.Name) })
		}
	case cluster.EventLeave, cluster.EventFailed:
		n.conns.memberGone(m.Name)
		n.health.forget(m.Name)
		n.m.LinkQueueDepth.DeleteLabelValues(m.Name)
		what := "left"
		n.departed.set(m.Name, shardgate.StateLeft)
		if e.Type == cluster.EventFailed {
			what = "failed"
			n.departed.set(m.Name, shardgate.StateDead)
		}
		n.coord.poke("node " + m.Name + " " + what)
	}
	if e.Type == cluster.EventUpdate && n.memberStates[m.Name] == m.Meta.State {
		return // a metadata refresh (table version), not a change worth an event
	}
	n.memberStates[m.Name] = m.Meta.State
	n.events.publish(shardgate.Event{Type: "member", At: n.nowMS(), Data: map[string]any{
		"name": m.Name, "event": e.Type.String(), "state": m.Meta.State, "status": m.Status}})
}

// dropLoop deletes the data of shards this node no longer holds, after a
// grace period in case the table swings back.
func (n *Node) dropLoop() {
	t := time.NewTicker(max(n.cfg.DropGrace/4, 100*time.Millisecond))
	defer t.Stop()
	since := map[int]time.Time{}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		tbl := n.currentTable()
		if tbl.Shards == nil {
			continue
		}
		shards, err := n.st.Shards()
		if err != nil {
			continue
		}
		now := n.cfg.Now()
		held := map[int]bool{}
		for _, id := range shards {
			a := tbl.Shards[id]
			if a.Owner == n.name || containsName(a.Backups, n.name) || containsName(a.Pending, n.name) {
				delete(since, id)
				continue
			}
			held[id] = true
			first, ok := since[id]
			if !ok {
				since[id] = now
				continue
			}
			if now.Sub(first) >= n.cfg.DropGrace {
				unlock := n.replica.lock(id)
				cur := n.currentTable().Shards[id]
				if cur.Owner != n.name && !containsName(cur.Backups, n.name) && !containsName(cur.Pending, n.name) {
					if err := n.st.DropShard(id); err != nil {
						n.log.Warn("drop shard", "shard", id, "err", err)
					}
				}
				unlock()
				delete(since, id)
			}
		}
		for id := range since {
			if !held[id] {
				delete(since, id)
			}
		}
	}
}

// drainReq asks a node to drain. Logged is set when the coordinator has
// recorded the action already (an operator's drain); else the node reports
// it for the event log itself (SIGTERM).
type drainReq struct {
	Reason string `json:"reason"`
	Logged bool   `json:"logged,omitempty"`
}

// startDrain marks this node draining: the coordinator moves every shard
// off it. When none is left, it leaves (Left is closed) unless it was
// readmitted meanwhile.
func (n *Node) startDrain(ctx context.Context, req drainReq) (shardgate.MoveReport, error) {
	t := n.currentTable()
	rep := shardgate.MoveReport{Action: "drain", Version: t.Version}
	for id, a := range t.Shards {
		if a.Owner == n.name {
			rep.Moves = append(rep.Moves, shardgate.Move{Shard: id, From: n.name, Role: "owner"})
		} else if containsName(a.Backups, n.name) {
			rep.Moves = append(rep.Moves, shardgate.Move{Shard: id, From: n.name, Role: "backup"})
		}
	}
	if n.currentState() == shardgate.StateDraining {
		return rep, nil
	}
	dctx, end := context.WithCancel(n.ctx)
	n.drainMu.Lock()
	n.drainEnd = end
	n.drainMu.Unlock()
	n.setState(ctx, shardgate.StateDraining)
	n.log.Info("draining", "reason", req.Reason, "shards", len(rep.Moves))
	if !req.Logged {
		n.goFunc(func() {
			n.report(shardgate.LogEntry{Type: shardgate.LogAction, Actor: n.name, Action: shardgate.ActionDrain, Node: n.name,
				Reason: req.Reason})
		})
	}
	n.goFunc(func() {
		defer end()
		err := n.waitDrained(dctx, n.cfg.DrainTimeout)
		if errors.Is(err, context.Canceled) && n.ctx.Err() == nil {
			return // readmitted
		}
		if err != nil {
			n.log.Warn("drain incomplete, leaving anyway", "err", err)
		}
		n.leftOnce.Do(func() { close(n.left) })
	})
	return rep, nil
}

// report hands a log entry to the coordinator, retrying for a while: the
// coordinator may be changing (this node may have been it).
func (n *Node) report(e shardgate.LogEntry) {
	if e.At == 0 {
		e.At = n.nowMS()
	}
	ctx, cancel := context.WithTimeout(n.ctx, 15*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		coord := n.coordinatorName()
		switch {
		case coord == n.name:
			n.coord.record(e)
			return
		case coord != "":
			c, ccancel := context.WithTimeout(ctx, 2*time.Second)
			err := n.links.Call(c, coord, methodRecord, e, nil)
			ccancel()
			if err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	n.log.Warn("event not recorded: no coordinator took it", "action", e.Action)
}

// waitDrained waits until no shard names this node, or no other active
// node exists to take them.
func (n *Node) waitDrained(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		changed := n.tableChanged()
		t := n.currentTable()
		if t.Owned(n.name) == 0 && t.BackedUp(n.name) == 0 {
			return nil
		}
		others := 0
		for name, m := range n.aliveMembers() {
			if name != n.name && m.Meta.State == shardgate.StateActive {
				others++
			}
		}
		if others == 0 {
			return shardgate.Errorf(shardgate.KindConflict, "no other active node can take this node's shards")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// othersActive counts the live members other than this node that are
// active: those that will hold the shards once it has gone.
func (n *Node) othersActive() int {
	c := 0
	for _, m := range n.mem.Members() {
		if m.Name != n.name && isLive(m) && m.Meta.State == shardgate.StateActive {
			c++
		}
	}
	return c
}

// Stop drains this node gracefully (SIGTERM): its shards are handed off
// before it returns. ctx bounds the wait; a cancelled ctx stops at once.
func (n *Node) Stop(ctx context.Context) error {
	reason := "graceful stop (SIGTERM)"
	if rest, want := n.othersActive(), n.backups()+1; rest < want {
		// A signal cannot be refused as an operator's drain is (409), but
		// what it costs is said where the operator looks first.
		n.log.Warn("stopping leaves fewer nodes than copies wanted: each shard will be kept on every remaining node until more join",
			"remaining", rest, "copies_wanted", want)
		reason += fmt.Sprintf("; %d node(s) remain for %d copies of each shard", rest, want)
	}
	if _, err := n.startDrain(ctx, drainReq{Reason: reason}); err != nil {
		return err
	}
	select {
	case <-n.left:
	case <-ctx.Done():
	}
	n.setState(context.Background(), shardgate.StateLeft)
	return nil
}
