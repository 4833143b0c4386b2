package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// MaxMarks bounds one page of Marks.
const MaxMarks = 1000

// Mark is where one key of a shard stands: the highest seq it ever stored,
// the floor retention trimmed it to, and its read cursor. A shard's new home
// compares its own marks with its backups' to find what its disk lost.
type Mark struct {
	Key    string `json:"key"`
	Last   uint64 `json:"last"`
	Floor  uint64 `json:"floor,omitempty"`
	Cursor uint64 `json:"cursor,omitempty"`
}

// Marks lists the marks of shard's keys in the store's key order, starting
// after the key named after ("" starts at the first), at most limit of them
// (limit <= 0 or above MaxMarks means MaxMarks). more says whether keys
// follow the last one listed.
func (s *Store) Marks(shard int, after string, limit int) (marks []Mark, more bool, err error) {
	if limit <= 0 || limit > MaxMarks {
		limit = MaxMarks
	}
	err = s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil || tooLong(after) {
			return nil
		}
		start := []byte{recKey}
		if after != "" {
			start = prefixed(recKey, after)
		}
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil && k[0] == recKey; k, v = c.Next() {
			key, rest, err := readLP(k[1:])
			if err != nil || len(rest) != 0 {
				return fmt.Errorf("record %x: %w", k, errCorrupt)
			}
			if after != "" && bytes.Equal(k, start) {
				continue
			}
			if len(marks) == limit {
				more = true
				return nil
			}
			rec, err := decodeKeyRec(v)
			if err != nil {
				return err
			}
			marks = append(marks, Mark{Key: key, Last: rec.last, Floor: rec.floor,
				Cursor: decodeU64(b.Get(prefixed(recCursor, key)))})
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: marks of shard %d after %q: %w", shard, after, err)
	}
	return marks, more, nil
}

// MarkOf is the mark of one key (zero but for Key when it was never written).
func (s *Store) MarkOf(shard int, key string) (Mark, error) {
	rec, err := s.keyRecord(shard, key)
	if err != nil {
		return Mark{}, fmt.Errorf("store: mark of shard %d key %q: %w", shard, key, err)
	}
	cur, err := s.Cursor(shard, key)
	if err != nil {
		return Mark{}, err
	}
	return Mark{Key: key, Last: rec.last, Floor: rec.floor, Cursor: cur}, nil
}
