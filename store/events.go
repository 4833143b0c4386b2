package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketEvents holds the cluster's event log: sequence number (8 bytes, big
// endian, so keys sort in log order) → the entry as the engine encoded it.
// The store does not read the entries.
var bucketEvents = []byte("events")

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// PutEvents stores vals at first, first+1, …, deletes every entry after the
// last of them (a log that diverged after first is replaced, not merged),
// and then deletes the oldest entries beyond keep (keep ≤ 0 keeps all). It
// returns once durable.
func (s *Store) PutEvents(first uint64, vals [][]byte, keep int) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if err := b.Put(seqKey(first+uint64(i)), v); err != nil {
				return err
			}
		}
		// Keys are gathered first: a bbolt cursor skips entries when the
		// one under it is deleted.
		var drop [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(seqKey(first + uint64(len(vals)))); k != nil; k, _ = c.Next() {
			drop = append(drop, append([]byte(nil), k...))
		}
		n := -len(drop)
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		if keep > 0 && n > keep {
			for k, _ := c.First(); k != nil && n > keep; k, _ = c.Next() {
				drop = append(drop, append([]byte(nil), k...))
				n--
			}
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: put events from %d: %w", first, err)
	}
	return nil
}

// Events returns up to limit entries with a sequence number above since,
// oldest first, with their sequence numbers (limit ≤ 0: all).
func (s *Store) Events(since uint64, limit int) ([]uint64, [][]byte, error) {
	var seqs []uint64
	var vals [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(since + 1)); k != nil && (limit <= 0 || len(seqs) < limit); k, v = c.Next() {
			seqs = append(seqs, binary.BigEndian.Uint64(k))
			vals = append(vals, append([]byte(nil), v...))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: read events after %d: %w", since, err)
	}
	return seqs, vals, nil
}

// EventBounds returns the first and last sequence numbers stored (0, 0 for
// an empty log).
func (s *Store) EventBounds() (first, last uint64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		if k, _ := c.First(); k != nil {
			first = binary.BigEndian.Uint64(k)
		}
		if k, _ := c.Last(); k != nil {
			last = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: event log bounds: %w", err)
	}
	return first, last, nil
}
