// Package cluster turns memberlist's gossip into shardgate's membership: who
// is in the cluster, with which addresses, state, partition count and table
// version, and what changed.
//
// It owns:
//   - starting memberlist with our settings (failure detection tuned so a
//     crashed node is declared dead in about three seconds on a LAN);
//   - node metadata (Meta), gossiped as compact JSON;
//   - joining through seeds with retries, and refusing peers whose
//     partition count differs from ours, with an error that says so;
//   - re-joining known peers that are absent, because memberlist by itself
//     never merges two halves of a partition that outlasted
//     GossipToTheDeadTime (hashicorp/memberlist#222);
//   - graceful leave, told apart from a crash through the "left" state the
//     node gossips just before it leaves;
//   - our own Event stream, fed from memberlist's callbacks through an
//     internal queue so that a slow consumer never stalls gossip.
//
// It must never know about WebSockets, shards or tables beyond the version
// number it gossips, and it is the only package that imports memberlist.
// Metadata is not authenticated beyond the cluster key: anyone holding the
// key can claim any name, so no rights may be granted from Meta.
package cluster
