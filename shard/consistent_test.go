package shard

import "github.com/buraksezer/consistent"

// The owners consistent v0.10.0 computes with bounded loads, the scheme
// Assign used before balancedOwners: kept to compare figures against
// (balance_test.go). Its panic is guarded as it was.

// roomPanic is what consistent v0.10.0 panics with when bounded loads leave
// a partition nowhere to go (buraksezer/consistent#13).
const roomPanic = "not enough room to distribute partitions"

type member string

func (m member) String() string { return string(m) }

// consistentOwners asks consistent for the owner of every shard, or returns
// nil when it cannot place them all.
func consistentOwners(names []string, cfg Config) []string {
	n, p := len(names), cfg.Partitions
	if n > p {
		return nil // consistent would give every member room for floor(P/n) = 0 shards
	}
	// consistent rounds P/n down before applying the load factor, so its
	// cap drops by a whole Load step each time floor(P/n) does, and that one
	// join reshuffles up to a third of the table (measured at 136 members
	// of 271 shards). A factor rescaled to the exact P/n keeps the cap at
	// ceil(P/n × Load), which follows n smoothly. Aiming half a shard below
	// the integer keeps float rounding from tipping it up by one.
	load := (roomFor(p, n, cfg.Load) - 0.5) / float64(p/n)
	// Hash collisions on the ring can still leave no room; loosen and retry.
	for _, l := range []float64{load, load * 1.5, load * 2} {
		if owners := tryConsistent(names, cfg, l); owners != nil {
			return owners
		}
	}
	return nil
}

func tryConsistent(names []string, cfg Config, load float64) (owners []string) {
	defer func() {
		if v := recover(); v != nil {
			if v != roomPanic {
				panic(v) // not the known failure: a bug, maybe in cfg.Hash
			}
			owners = nil
		}
	}()
	ms := make([]consistent.Member, len(names))
	for i, n := range names {
		ms[i] = member(n)
	}
	c := consistent.New(ms, consistent.Config{
		Hasher:            hasherFunc(cfg.Hash),
		PartitionCount:    cfg.Partitions,
		ReplicationFactor: replicationFactor,
		Load:              load,
	})
	owners = make([]string, cfg.Partitions)
	for s := range owners {
		m := c.GetPartitionOwner(s)
		if m == nil {
			return nil
		}
		owners[s] = m.String()
	}
	return owners
}
