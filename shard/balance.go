package shard

import (
	"slices"
	"sort"
)

// Owners are balanced within balanceTolerance of the mean P/n, widened to
// the nearest whole shards when the band holds no integer (P = 271 over
// 50 members: mean 5.42, so every member owns 5 or 6).
const (
	balanceTolerancePct = 10
	// balanceRounds bounds the bias search; repair finishes what it leaves.
	balanceRounds = 100
	// balanceStall ends the search after this many rounds without fewer
	// shards out of band.
	balanceStall = 15
	// weightShift drops the low bits of a rendezvous weight so that a
	// weight plus a bias never overflows int64.
	weightShift = 16
)

// band is the range of shards a member may own: [lo, hi] with
// lo = min(floor(P/n), ceil(0.9 P/n)) and hi = max(ceil(P/n), floor(1.1 P/n)),
// hi capped by the bounded-load room ceil(P/n × Load).
func band(p, n int, load float64) (lo, hi int) {
	t := balanceTolerancePct
	lo = min(p/n, ((100-t)*p+100*n-1)/(100*n))
	hi = max((p+n-1)/n, (100+t)*p/(100*n))
	hi = min(hi, int(roomFor(p, n, load)))
	return lo, hi
}

// balancedOwners gives each shard to the member with the highest
// rendezvous weight plus a per-member bias, and searches the biases that
// bring every member's count into band: a member above the band gets a
// lower bias, one below a higher one, by steps that shrink each round.
//
// Why biases rather than a cap: with caps (consistent's bounded loads, or
// a greedy fill), a join lowers every cap and the overflow cascades from
// member to member. A bias moves only the shards whose top two weights
// are close, so a join moves about the shards the new member wins plus a
// few near ties. Everything is integer arithmetic, so every node computes
// the same owners whatever its CPU.
func (r rendezvous) balancedOwners(p int, load float64) []string {
	n := len(r.names)
	lo, hi := band(p, n, load)
	w := make([]int64, p*n)
	for s := 0; s < p; s++ {
		for i := 0; i < n; i++ {
			w[s*n+i] = int64(r.weight(s, i) >> weightShift)
		}
	}
	bias := make([]int64, n)
	owner := make([]int, p)
	count := make([]int, n)
	// unit is the bias that moves about one shard: P shards spread over
	// the weight range 2^(64-weightShift).
	unit := int64(1) << (64 - weightShift - 1) / int64(p)
	bestMiss, since := p+1, 0
	for round := 0; ; round++ {
		clear(count)
		for s := 0; s < p; s++ {
			row := w[s*n : s*n+n]
			best, top := 0, row[0]+bias[0]
			for i := 1; i < n; i++ {
				if v := row[i] + bias[i]; v > top {
					best, top = i, v
				}
			}
			owner[s] = best
			count[best]++
		}
		miss := outOfBand(count, lo, hi)
		if miss < bestMiss {
			bestMiss, since = miss, 0
		} else if since++; since == balanceStall {
			break // stuck near the band: repair is quicker
		}
		if miss == 0 || round == balanceRounds {
			break
		}
		for i, c := range count {
			// Aim half a shard inside the band's edge, damped by 2 and
			// shrinking with the rounds (3/(3+round)) so the search settles.
			var halves int64
			switch {
			case c < lo:
				halves = int64(2*(lo-c) + 1)
			case c > hi:
				halves = int64(2*(hi-c) - 1)
			default:
				continue
			}
			bias[i] += halves * unit * 3 / (2 * int64(3+round))
		}
	}
	out := make([]string, p)
	for s, o := range owner {
		out[s] = r.names[o]
	}
	return r.repair(out, lo, hi)
}

// outOfBand counts the shards members hold beyond the band or lack below it.
func outOfBand(count []int, lo, hi int) int {
	miss := 0
	for _, c := range count {
		miss += max(lo-c, 0) + max(c-hi, 0)
	}
	return miss
}

// repair brings every member into [lo, hi] when the bias search did not:
// first members above hi hand shards to members below hi, then members
// below lo take shards from members above lo. Each pass moves first the
// shards whose move loses the least rendezvous weight, so it picks the
// near ties a bias would have flipped. It always ends in band, since
// n·lo ≤ P ≤ n·hi.
func (r rendezvous) repair(owners []string, lo, hi int) []string {
	n := len(r.names)
	index := make(map[string]int, n)
	for i, name := range r.names {
		index[name] = i
	}
	count := make([]int, n)
	for _, o := range owners {
		count[index[o]]++
	}
	if outOfBand(count, lo, hi) == 0 {
		return owners
	}
	out := slices.Clone(owners)
	pass := func(give func(int) bool, take func(int) bool) {
		type move struct {
			shard, to int
			loss      uint64
		}
		var moves []move
		for s, o := range out {
			x := index[o]
			if !give(x) {
				continue
			}
			for y := 0; y < n; y++ {
				if take(y) {
					wx, wy := r.weight(s, x), r.weight(s, y)
					moves = append(moves, move{s, y, max(wx, wy) - wy})
				}
			}
		}
		sort.Slice(moves, func(a, b int) bool {
			if moves[a].loss != moves[b].loss {
				return moves[a].loss < moves[b].loss
			}
			if moves[a].shard != moves[b].shard {
				return moves[a].shard < moves[b].shard
			}
			return moves[a].to < moves[b].to
		})
		moved := make(map[int]bool)
		for _, m := range moves {
			x := index[out[m.shard]]
			if moved[m.shard] || !give(x) || !take(m.to) {
				continue
			}
			out[m.shard] = r.names[m.to]
			moved[m.shard] = true
			count[x]--
			count[m.to]++
		}
	}
	pass(func(i int) bool { return count[i] > hi }, func(i int) bool { return count[i] < hi })
	pass(func(i int) bool { return count[i] > lo }, func(i int) bool { return count[i] < lo })
	return out
}
