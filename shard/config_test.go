package shard

import (
	"math"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"pgregory.net/rapid"
)

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"zero partitions", func(c *Config) { c.Partitions = 0 }, "partitions must be between 1 and 65536, got 0"},
		{"too many partitions", func(c *Config) { c.Partitions = 70000 }, "partitions must be between 1 and 65536, got 70000"},
		{"negative backups", func(c *Config) { c.Backups = -1 }, "backups must be between 0 and 16, got -1"},
		{"too many backups", func(c *Config) { c.Backups = 17 }, "backups must be between 0 and 16, got 17"},
		{"load below one", func(c *Config) { c.Load = 0.9 }, "load factor must be between 1 and 10 (1.25 is usual), got 0.9"},
		{"load NaN", func(c *Config) { c.Load = math.NaN() }, "got NaN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestShardOf(t *testing.T) {
	for _, key := range []string{"alice", "bob", "", "ключ", strings.Repeat("x", 256)} {
		want := int(xxhash.Sum64String(key) % 271)
		if got := ShardOf(key, 271); got != want {
			t.Errorf("ShardOf(%q, 271) = %d, want %d", key, got, want)
		}
		if got := DefaultConfig().ShardOf(key); got != want {
			t.Errorf("Config.ShardOf(%q) = %d, want %d", key, got, want)
		}
		if got := (Config{}).ShardOf(key); got != want {
			t.Errorf("zero Config.ShardOf(%q) = %d, want the default's %d", key, got, want)
		}
	}
	if got := ShardOf("alice", 0); got != 0 {
		t.Errorf("ShardOf with 0 partitions = %d, want 0 rather than a panic", got)
	}
	injected := Config{Partitions: 10, Hash: func(s string) uint64 { return uint64(len(s)) }}
	if got := injected.ShardOf("abc"); got != 3 {
		t.Errorf("injected hash: ShardOf(abc) = %d, want 3", got)
	}
}

// Keys (consistent's FindPartitionID) and Config.ShardOf must agree on
// every key: a node's stored shards were filed under either.
func TestKeysAgreeWithShardOf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{Partitions: rapid.IntRange(1, MaxPartitions).Draw(t, "partitions")}
		if rapid.Bool().Draw(t, "injected hash") {
			cfg.Hash = func(s string) uint64 { return uint64(len(s)) * 2654435761 }
		}
		keys := NewKeys(cfg)
		for _, key := range rapid.SliceOfN(rapid.String(), 1, 50).Draw(t, "keys") {
			if got, want := keys.ShardOf(key), cfg.ShardOf(key); got != want {
				t.Fatalf("key %q: Keys says shard %d, ShardOf %d", key, got, want)
			}
			if cfg.Hash == nil {
				if got, want := keys.ShardOf(key), ShardOf(key, cfg.Partitions); got != want {
					t.Fatalf("key %q: Keys says shard %d, the package's ShardOf %d", key, got, want)
				}
			}
		}
	})
}
