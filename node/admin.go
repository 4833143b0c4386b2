package node

import (
	"context"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
)

// adminReq is an operator action forwarded to the coordinator.
type adminReq struct {
	Action string `json:"action"` // rebalance, failover, move
	Node   string `json:"node,omitempty"`
	Shard  int    `json:"shard,omitempty"`
}

// Rebalance forgets operator moves and re-plans the table now.
func (n *Node) Rebalance(ctx context.Context) (shardgate.MoveReport, error) {
	return n.toCoordinator(ctx, adminReq{Action: "rebalance"})
}

// Failover treats node as failed now: its backups are promoted.
func (n *Node) Failover(ctx context.Context, node string) (shardgate.MoveReport, error) {
	return n.toCoordinator(ctx, adminReq{Action: "failover", Node: node})
}

// MoveShard makes node the home of shard id.
func (n *Node) MoveShard(ctx context.Context, id int, to string) (shardgate.MoveReport, error) {
	if id < 0 || id >= n.cfg.Shard.Partitions {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindNotFound, "shard %d does not exist (partitions: %d)", id, n.cfg.Shard.Partitions)
	}
	return n.toCoordinator(ctx, adminReq{Action: "move", Node: to, Shard: id})
}

// Drain moves every shard off node, which then leaves.
func (n *Node) Drain(ctx context.Context, node string) (shardgate.MoveReport, error) {
	m, ok := n.aliveMembers()[node]
	if !ok {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindNotFound, "no live node named %q", node)
	}
	if m.Meta.State == shardgate.StateActive && n.activeCount() < 2 {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindConflict, "%s is the only active node: nowhere to move its shards", node)
	}
	if node == n.name {
		return n.startDrain(ctx, "drain requested by operator")
	}
	var rep shardgate.MoveReport
	err := n.links.Call(ctx, node, methodDrain, struct{}{}, &rep)
	return rep, err
}

func (n *Node) activeCount() int {
	c := 0
	for _, m := range n.aliveMembers() {
		if m.Meta.State == shardgate.StateActive {
			c++
		}
	}
	return c
}

func (n *Node) toCoordinator(ctx context.Context, r adminReq) (shardgate.MoveReport, error) {
	coord := n.coordinatorName()
	if coord == "" {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindUnavailable, "no coordinator: no active node is visible")
	}
	if coord == n.name {
		return n.coordAction(ctx, r)
	}
	var rep shardgate.MoveReport
	err := n.links.Call(ctx, coord, methodAdmin, r, &rep)
	return rep, err
}

// coordAction runs an operator action on the coordinator and reports the
// copies the next table step implies.
func (n *Node) coordAction(_ context.Context, r adminReq) (shardgate.MoveReport, error) {
	if n.coordinatorName() != n.name {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindUnavailable, "%s is no longer the coordinator; retry", n.name)
	}
	if !n.quorum() {
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindUnavailable, "the coordinator does not see a majority")
	}
	c := n.coord
	alive := n.aliveMembers()
	switch r.Action {
	case "rebalance":
		c.mu.Lock()
		c.overrides = map[int]string{}
		c.mu.Unlock()
		c.poke("rebalance requested by operator")
	case "failover":
		m, ok := alive[r.Node]
		if !ok {
			return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindNotFound, "no live node named %q", r.Node)
		}
		if r.Node == n.name {
			return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindConflict, "%s is the coordinator: drain it instead", r.Node)
		}
		c.mu.Lock()
		c.failed[r.Node] = m.Meta.StartedAt
		c.mu.Unlock()
		c.poke("node " + r.Node + " failed over by operator")
	case "move":
		m, ok := alive[r.Node]
		if !ok || m.Meta.State != shardgate.StateActive {
			return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindNotFound, "no active node named %q", r.Node)
		}
		c.mu.Lock()
		c.overrides[r.Shard] = r.Node
		c.mu.Unlock()
		c.poke("operator moved shard to " + r.Node)
	default:
		return shardgate.MoveReport{}, shardgate.Errorf(shardgate.KindInvalid, "unknown action %q", r.Action)
	}
	cur := n.currentTable()
	next, desired, _ := c.next(cur)
	moves := shard.Moves(cur, next, desired)
	// Promotions (a backup becoming home) copy nothing but are what a
	// failover does: list them too.
	for id := range next.Shards {
		if id < len(cur.Shards) && cur.Shards[id].Owner != next.Shards[id].Owner {
			moves = append(moves, shardgate.Move{Shard: id, From: cur.Shards[id].Owner, To: next.Shards[id].Owner, Role: "owner"})
		}
	}
	return shardgate.MoveReport{Action: r.Action, Version: cur.Version, Moves: nonNilMoves(moves)}, nil
}

func nonNilMoves(m []shardgate.Move) []shardgate.Move {
	if m == nil {
		return []shardgate.Move{}
	}
	return m
}
