package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/shardgate/shardgate"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testConfig is a fast configuration in dir: no fsync, no retention.
func testConfig(dir string) Config {
	cfg := DefaultConfig(filepath.Join(dir, "store.db"))
	cfg.NoSync = true
	cfg.MaxMessages = 0
	return cfg
}

// MustOpen opens a store with cfg and closes it when the test ends.
func MustOpen(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := Open(cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

// The helpers below take rapid.TB so property tests can use them too.

// MustApply applies ops or fails the test.
func MustApply(tb rapid.TB, s *Store, ops ...Op) {
	tb.Helper()
	if err := s.Apply(context.Background(), ops); err != nil {
		tb.Fatalf("apply: %v", err)
	}
}

func msgOp(shard int, key string, seq uint64, ts int64) Op {
	return Op{Kind: OpMessage, Shard: shard, Key: key, Msg: shardgate.Message{
		Seq: seq, From: "sender", TS: ts, Data: []byte(fmt.Sprintf(`{"n":%d}`, seq)),
	}}
}

// seqs lists the seqs of msgs.
func seqs(msgs []shardgate.Message) []uint64 {
	out := []uint64{}
	for _, m := range msgs {
		out = append(out, m.Seq)
	}
	return out
}

// MustRead reads or fails the test.
func MustRead(tb rapid.TB, s *Store, shard int, key string, since uint64, limit int) ([]shardgate.Message, uint64) {
	tb.Helper()
	msgs, last, err := s.Read(shard, key, since, limit)
	if err != nil {
		tb.Fatalf("read %q since %d: %v", key, since, err)
	}
	return msgs, last
}

// dumpShard copies every record of the shard out of the file.
func dumpShard(tb rapid.TB, s *Store, shard int) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		tb.Fatalf("dump shard %d: %v", shard, err)
	}
	return out
}

// recount counts the shard's messages and bytes from the file, to hold the
// in-memory statistics to it.
func recount(tb rapid.TB, s *Store, shard int) (messages, size int64) {
	tb.Helper()
	for k, v := range dumpShard(tb, s, shard) {
		if k[0] == recMsg {
			messages++
			size += int64(len(k) + len(v))
		}
	}
	return messages, size
}

// checkStats fails the test if the in-memory statistics of shard disagree
// with the file.
func checkStats(tb rapid.TB, s *Store, shard int) {
	tb.Helper()
	wm, wb := recount(tb, s, shard)
	gm, gb := s.ShardStats(shard)
	if gm != wm || gb != wb {
		tb.Fatalf("shard %d stats = (%d msgs, %d bytes), file holds (%d, %d)", shard, gm, gb, wm, wb)
	}
}

// checkKeyCount reads the message count kept in key's record and checks it
// against the messages in the file.
func checkKeyCount(tb rapid.TB, s *Store, shard int, key string) {
	tb.Helper()
	rec, err := s.keyRecord(shard, key)
	if err != nil {
		tb.Fatal(err)
	}
	p := prefixed(recMsg, key)
	var n uint64
	for k := range dumpShard(tb, s, shard) {
		if bytes.HasPrefix([]byte(k), p) && len(k) == len(p)+8 {
			n++
			if seq := binary.BigEndian.Uint64([]byte(k[len(p):])); seq <= rec.floor {
				tb.Fatalf("key %q holds seq %d at or below its floor %d", key, seq, rec.floor)
			}
		}
	}
	if rec.count != n {
		tb.Fatalf("key %q record counts %d messages, file holds %d", key, rec.count, n)
	}
}
