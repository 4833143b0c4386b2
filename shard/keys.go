package shard

import (
	"unsafe"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// Keys maps keys to shards: consistent's FindPartitionID, the key's hash
// mod P, under the cluster's hash. It gives the same shard as
// Config.ShardOf, so data stored under either stays where it is. Owners are
// not placed by consistent's ring but by Assign (balance.go says why). Safe
// for concurrent use.
type Keys struct {
	ring *consistent.Consistent
}

// NewKeys returns the key map of c (zero fields count as their defaults).
func NewKeys(c Config) *Keys {
	var h consistent.Hasher = xxHasher{} // no conversion per key
	if c.Hash != nil {
		h = hasherFunc(c.Hash)
	}
	c = c.normalized()
	// No members: the ring is only asked for partition ids, which need
	// none, so it never distributes (nor panics doing so).
	return &Keys{ring: consistent.New(nil, consistent.Config{
		PartitionCount:    c.Partitions,
		ReplicationFactor: replicationFactor,
		Load:              c.Load,
		Hasher:            h,
	})}
}

// ShardOf is the shard of key.
func (k *Keys) ShardOf(key string) int {
	// The ring only hashes the bytes: viewing the string's own bytes
	// spares a copy (and an allocation) on every call of the send path.
	return k.ring.FindPartitionID(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// replicationFactor is how many points each member gets on consistent's
// ring; consistent's own default.
const replicationFactor = 20

type hasherFunc Hasher

func (h hasherFunc) Sum64(b []byte) uint64 { return h(string(b)) }

type xxHasher struct{}

func (xxHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }
