package shard

import (
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
)

// Limits and defaults of a Config.
const (
	DefaultPartitions = 271
	DefaultBackups    = 1
	DefaultLoad       = 1.25

	MaxPartitions = 65536
	// MaxBackups bounds B: every acknowledged write waits for every backup.
	MaxBackups = 16
	// MaxLoad bounds the load factor; beyond it bounded loads mean nothing.
	MaxLoad = 10.0
)

// Hasher maps a string to 64 bits. It must be the same function on every
// node of a cluster, since the table is computed independently on each.
type Hasher func(string) uint64

// Config fixes how keys map to shards and shards to nodes. P must never
// change for the life of a cluster: every key's shard depends on it.
type Config struct {
	// Partitions is P, the number of shards (1–65536).
	Partitions int
	// Backups is B, the number of backup copies of each shard besides the
	// owner's (0–16). A cluster of n nodes holds min(B, n-1) backups.
	Backups int
	// Load is the bounded-load factor: no node owns more than
	// ceil(P/n × Load) shards. At least 1; 1.25 is usual.
	Load float64
	// Hash hashes keys, node names and shard ids. Nil means xxhash.
	Hash Hasher
}

// DefaultConfig is P = 271, B = 1, Load = 1.25, xxhash (a nil Hash).
func DefaultConfig() Config {
	return Config{
		Partitions: DefaultPartitions,
		Backups:    DefaultBackups,
		Load:       DefaultLoad,
	}
}

// Validate reports the first unusable setting as a sentence.
func (c Config) Validate() error {
	if c.Partitions < 1 || c.Partitions > MaxPartitions {
		return fmt.Errorf("partitions must be between 1 and %d, got %d", MaxPartitions, c.Partitions)
	}
	if c.Backups < 0 || c.Backups > MaxBackups {
		return fmt.Errorf("backups must be between 0 and %d, got %d", MaxBackups, c.Backups)
	}
	// Written so that NaN fails too.
	if !(c.Load >= 1 && c.Load <= MaxLoad) {
		return fmt.Errorf("load factor must be between 1 and %g (1.25 is usual), got %g", MaxLoad, c.Load)
	}
	return nil
}

// normalized fills zero and out-of-range fields with defaults, so that the
// functions of this package never panic on a Config that skipped Validate.
func (c Config) normalized() Config {
	if c.Partitions < 1 || c.Partitions > MaxPartitions {
		c.Partitions = DefaultPartitions
	}
	if c.Backups < 0 {
		c.Backups = 0
	}
	if c.Backups > MaxBackups {
		c.Backups = MaxBackups
	}
	if !(c.Load >= 1 && c.Load <= MaxLoad) {
		c.Load = DefaultLoad
	}
	if c.Hash == nil {
		c.Hash = xxhash.Sum64String
	}
	return c
}

// ShardOf is the shard of key among partitions shards with the default hash.
// A partitions below 1 counts as 1 rather than dividing by zero.
func ShardOf(key string, partitions int) int {
	if partitions <= 1 {
		return 0
	}
	return int(xxhash.Sum64String(key) % uint64(partitions))
}

// ShardOf is the shard of key under c's hash and partition count. Zero
// fields count as their defaults, as everywhere in this package.
func (c Config) ShardOf(key string) int {
	c = c.normalized()
	return int(c.Hash(key) % uint64(c.Partitions))
}

// roomFor is the most shards one of n members may own: ceil(P/n × load).
// It is never below ceil(P/n), so n members always have room for P shards.
func roomFor(partitions, n int, load float64) float64 {
	room := math.Ceil(float64(partitions) * load / float64(n))
	return max(room, float64((partitions+n-1)/n))
}
