package shard

import (
	"slices"

	"github.com/shardgate/shardgate"
)

// Roles of a Move.
const (
	RoleOwner  = "owner"
	RoleBackup = "backup"
)

// PlanOptions tune how fast Plan moves data.
type PlanOptions struct {
	// MaxPendingPerNode caps how many shards one node receives copies of at
	// once, so a joining node is not flooded; 0 means no cap.
	MaxPendingPerNode int
}

// Plan computes the next step from the table in force, cur, toward desired,
// given which nodes are alive (nil means all). It copies Version,
// Coordinator and Members from cur; the caller sets them. For each shard:
//
//  1. Dead nodes leave the backups and the pending list.
//  2. A dead owner is replaced by its first live backup that desired keeps
//     as a replica, or else its first live backup (failover). With no live holder the
//     owner stays as it is: a shard is never re-homed onto a node that lacks
//     its data, and waits for a holder to return.
//  3. With D = desired's replicas and H = the live holders: if D ⊆ H the
//     shard takes desired's owner and backups and drops other holders
//     (cut-over). Otherwise the owner and live backups stay and the live
//     nodes of D \ H become Pending, at most MaxPendingPerNode per target;
//     copies already pending in cur keep their place, then the lowest shard
//     ids go first.
//
// Plan never homes a shard that has no holder in cur either, since it cannot
// tell a shard that never had data from one whose holders were lost: the
// first table of a new cluster is desired itself, and only the caller knows
// that no table came before it. Shards are indexed alike in both tables; P
// must not differ between them (extra shards of either are kept, not lost).
func Plan(cur, desired Table, alive func(node string) bool, opts PlanOptions) Table {
	live := func(n string) bool { return n != "" && (alive == nil || alive(n)) }
	n := max(len(cur.Shards), len(desired.Shards))
	next := Table{
		Version:     cur.Version,
		Partitions:  n,
		Backups:     desired.Backups,
		Coordinator: cur.Coordinator,
		Members:     append([]string{}, cur.Members...),
		Shards:      make([]Assignment, n),
	}
	if len(desired.Shards) == 0 {
		next.Backups = cur.Backups
	}
	want := make([][]string, n)
	for s := range next.Shards {
		next.Shards[s], want[s] = step(cur.shard(s), desired.shard(s), live)
	}
	admitPending(next, cur, want, opts.MaxPendingPerNode)
	return next
}

// step applies rules 1–3 to one shard, returning its assignment without
// Pending and the nodes that should receive a copy.
func step(c, d Assignment, live func(string) bool) (Assignment, []string) {
	owner := c.Owner
	backups := filter(c.Backups, live, owner)
	if !live(owner) {
		if len(backups) == 0 {
			return Assignment{Owner: owner, Backups: backups}, nil
		}
		i := promote(backups, d)
		owner = backups[i]
		backups = slices.Delete(backups, i, i+1)
	}
	holders := append([]string{owner}, backups...)
	desiredReplicas := append([]string{d.Owner}, d.Backups...)
	var missing []string
	for _, x := range desiredReplicas {
		if x != "" && !slices.Contains(holders, x) {
			missing = append(missing, x)
		}
	}
	if d.Owner != "" && len(missing) == 0 {
		return Assignment{Owner: d.Owner, Backups: filter(d.Backups, live, d.Owner)}, nil
	}
	return Assignment{Owner: owner, Backups: backups}, filter(missing, live, "")
}

// promote picks which live backup takes over from a dead owner: the first
// (rendezvous ranked it highest, which spreads a failed node's shards over
// the survivors) among those desired keeps as replicas, so the failover
// needs no copy that the plan will undo.
func promote(backups []string, d Assignment) int {
	for i, b := range backups {
		if b == d.Owner || slices.Contains(d.Backups, b) {
			return i
		}
	}
	return 0
}

// filter returns the live nodes of nodes other than except, without
// repeats, in their order, as a new slice.
func filter(nodes []string, live func(string) bool, except string) []string {
	out := make([]string, 0, len(nodes))
	for _, x := range nodes {
		if x != except && live(x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// admitPending sets next's Pending lists from want under the per-node cap.
// Copies already running (pending in cur) are admitted first so that a
// change of plan does not abandon half-made copies for new ones.
func admitPending(next, cur Table, want [][]string, limit int) {
	load := map[string]int{}
	admitted := make([][]bool, len(want))
	for pass := 0; pass < 2; pass++ {
		for s, nodes := range want {
			if admitted[s] == nil {
				admitted[s] = make([]bool, len(nodes))
			}
			running := cur.shard(s).Pending
			for i, x := range nodes {
				if admitted[s][i] || (pass == 0) != slices.Contains(running, x) {
					continue
				}
				if limit > 0 && load[x] >= limit {
					continue
				}
				admitted[s][i] = true
				load[x]++
			}
		}
	}
	for s, nodes := range want {
		for i, x := range nodes {
			if admitted[s][i] {
				next.Shards[s].Pending = append(next.Shards[s].Pending, x)
			}
		}
	}
}

// Complete records that node now holds a full copy of shard: it moves from
// Pending to Backups, which makes it a failover candidate. A node that is
// not pending for shard (a report that arrives after the plan changed)
// changes nothing. Call Plan again to cut over once every copy is made.
func Complete(cur Table, shard int, node string) Table {
	t := cur.Clone()
	if shard < 0 || shard >= len(t.Shards) {
		return t
	}
	a := &t.Shards[shard]
	i := slices.Index(a.Pending, node)
	if i < 0 {
		return t
	}
	a.Pending = slices.Delete(a.Pending, i, i+1)
	if len(a.Pending) == 0 {
		a.Pending = nil
	}
	if !a.holds(node) {
		a.Backups = append(a.Backups, node)
	}
	return t
}

// Moves lists the copies that going from cur to next starts: one per node
// newly pending, copied from the shard's owner, with the role desired gives
// that node. It is for reports; Plan's table is what the engine acts on.
func Moves(cur, next, desired Table) []shardgate.Move {
	moves := []shardgate.Move{}
	for s, a := range next.Shards {
		running := cur.shard(s).Pending
		for _, x := range a.Pending {
			if slices.Contains(running, x) {
				continue
			}
			role := RoleBackup
			if desired.shard(s).Owner == x {
				role = RoleOwner
			}
			moves = append(moves, shardgate.Move{Shard: s, From: a.Owner, To: x, Role: role})
		}
	}
	return moves
}
