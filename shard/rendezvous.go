package shard

// rendezvous ranks members for each shard by a weight mixed from the
// member's hash and the shard id (highest random weight wins). Unlike
// consistent's GetClosestN, which ranks members by name alone, the ranking
// differs from shard to shard, which is what spreads a node's backups.
type rendezvous struct {
	names []string // sorted; ties in weight go to the earlier name
	seeds []uint64
}

func newRendezvous(names []string, h Hasher) rendezvous {
	r := rendezvous{names: names, seeds: make([]uint64, len(names))}
	for i, n := range names {
		r.seeds[i] = h(n)
	}
	return r
}

// mix64 is the splitmix64 finalizer: a bijection whose output bits each
// depend on every input bit, so nearby shard ids give unrelated rankings.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r rendezvous) weight(shard, i int) uint64 {
	return mix64(r.seeds[i] ^ mix64(uint64(shard)+0x9e3779b97f4a7c15))
}

// before reports whether member i ranks above member j for shard.
func (r rendezvous) before(shard, i, j int) bool {
	wi, wj := r.weight(shard, i), r.weight(shard, j)
	return wi > wj || (wi == wj && i < j)
}

// backups returns the k highest-ranked members other than owner, best
// first, with k = min(b, members other than owner).
func (r rendezvous) backups(shard int, owner string, b int) []string {
	top := make([]int, 0, b)
	for i, n := range r.names {
		if n == owner || b == 0 {
			continue
		}
		// Insert i into the ranked top list, dropping the last if full.
		pos := len(top)
		for pos > 0 && r.before(shard, i, top[pos-1]) {
			pos--
		}
		if pos == b {
			continue
		}
		if len(top) < b {
			top = append(top, 0)
		}
		copy(top[pos+1:], top[pos:len(top)-1])
		top[pos] = i
	}
	out := make([]string, len(top))
	for k, i := range top {
		out[k] = r.names[i]
	}
	return out
}
