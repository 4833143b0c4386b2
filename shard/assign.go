package shard

import (
	"slices"

	"github.com/shardgate/shardgate"
)

// Assign computes the desired table for members: Version 0, no coordinator,
// Members sorted and without duplicates or empty names. The result depends
// only on the set of members and cfg, so every node that sees the same
// members computes the same table.
//
// Owners come from rendezvous hashing of (shard, member) with a bias per
// member, searched so that every member owns within 10% of the mean P/n
// (or floor/ceil of it when 10% is less than a shard) and never more than
// ceil(P/n × Load); a join or a leave moves little more than the shards
// the changed member gains or loses (balance.go). Backups are placed by
// rendezvous hashing too: each node's shards are backed up all over the
// cluster, so a failed node's load is shared by the survivors instead of
// landing on one of them.
//
// Zero or out-of-range fields of cfg count as their defaults; Assign never
// panics.
func Assign(members []string, cfg Config) Table {
	cfg = cfg.normalized()
	names := normalizeMembers(members)
	t := Table{
		Partitions: cfg.Partitions,
		Backups:    cfg.Backups,
		Members:    names,
		Shards:     make([]Assignment, cfg.Partitions),
	}
	if len(names) == 0 {
		for s := range t.Shards {
			t.Shards[s].Backups = []string{}
		}
		return t
	}
	r := newRendezvous(names, cfg.Hash)
	owners := r.balancedOwners(cfg.Partitions, cfg.Load)
	for s := range t.Shards {
		t.Shards[s] = Assignment{Owner: owners[s], Backups: r.backups(s, owners[s], cfg.Backups)}
	}
	return t
}

// WithOwner returns desired with shard's owner forced to node, as an
// operator's move asks. Its backups are chosen again by the same rendezvous
// rule, excluding node. The override lasts only as long as the caller keeps
// applying it: the next Assign knows nothing of it.
func WithOwner(desired Table, shard int, node string, cfg Config) (Table, error) {
	if shard < 0 || shard >= len(desired.Shards) {
		return Table{}, shardgate.Errorf(shardgate.KindNotFound,
			"shard %d does not exist: shards are numbered 0 to %d", shard, len(desired.Shards)-1)
	}
	if node == "" {
		return Table{}, shardgate.Errorf(shardgate.KindInvalid, "a node name is required to move shard %d", shard)
	}
	if !slices.Contains(desired.Members, node) {
		return Table{}, shardgate.Errorf(shardgate.KindNotFound,
			"node %q is not an active member of the cluster, so it cannot own shard %d", node, shard)
	}
	cfg = cfg.normalized()
	t := desired.Clone()
	r := newRendezvous(normalizeMembers(desired.Members), cfg.Hash)
	t.Shards[shard] = Assignment{Owner: node, Backups: r.backups(shard, node, desired.Backups)}
	return t, nil
}

func normalizeMembers(members []string) []string {
	names := make([]string, 0, len(members))
	for _, m := range members {
		if m != "" {
			names = append(names, m)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
