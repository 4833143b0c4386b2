package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/shardgate/shardgate"
)

// Page sizes of Read.
const (
	DefaultReadLimit = 100
	MaxReadLimit     = 1000
)

// tooLong reports whether a part of a record key is longer than any the
// store accepts: no record can exist for it, and its length would not fit
// the prefix.
func tooLong(parts ...string) bool {
	for _, p := range parts {
		if len(p) > maxPart {
			return true
		}
	}
	return false
}

// keyRecord reads key's bookkeeping record; zero if the key is unknown.
func (s *Store) keyRecord(shard int, key string) (keyRec, error) {
	var rec keyRec
	err := s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil || tooLong(key) {
			return nil
		}
		var err error
		rec, err = decodeKeyRec(b.Get(prefixed(recKey, key)))
		return err
	})
	return rec, err
}

// LastSeq is the highest seq key ever stored in shard, trimmed or not; 0 for
// a key never written.
func (s *Store) LastSeq(shard int, key string) (uint64, error) {
	rec, err := s.keyRecord(shard, key)
	if err != nil {
		return 0, fmt.Errorf("store: last seq of shard %d key %q: %w", shard, key, err)
	}
	return rec.last, nil
}

// HasSeq reports whether the inbox of key accounts for seq: seq 0 always,
// seqs at or below the trimmed floor (they were stored and let go), and
// stored messages. A backup uses it to find gaps.
func (s *Store) HasSeq(shard int, key string, seq uint64) (bool, error) {
	if seq == 0 {
		return true, nil
	}
	var has bool
	err := s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil || tooLong(key) {
			return nil
		}
		rec, err := decodeKeyRec(b.Get(prefixed(recKey, key)))
		if err != nil {
			return err
		}
		has = seq <= rec.floor || b.Get(msgKey(key, seq)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: has seq %d of shard %d key %q: %w", seq, shard, key, err)
	}
	return has, nil
}

// Read returns key's messages with seq > since, oldest first, at most limit
// of them (limit <= 0 means DefaultReadLimit; at most MaxReadLimit), and the
// key's last_seq. Messages is never nil, so it encodes as a JSON array.
func (s *Store) Read(shard int, key string, since uint64, limit int) ([]shardgate.Message, uint64, error) {
	page, err := s.History(shard, key, since, limit)
	return page.Messages, page.LastSeq, err
}

// History is Read with the key's first readable seq: retention removed
// every message below FirstSeq (FirstSeq is 1 for a key that lost none, and
// LastSeq+1 when retention removed them all). A page also stops once its
// messages' data adds up to MaxReadBytes (it always holds at least one
// message when there is one), so that any page fits one node-link frame.
func (s *Store) History(shard int, key string, since uint64, limit int) (shardgate.HistoryResult, error) {
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	limit = min(limit, MaxReadLimit)
	page := shardgate.HistoryResult{Messages: []shardgate.Message{}, FirstSeq: 1}
	err := s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil || tooLong(key) {
			return nil
		}
		rec, err := decodeKeyRec(b.Get(prefixed(recKey, key)))
		if err != nil {
			return err
		}
		page.LastSeq, page.FirstSeq = rec.last, rec.floor+1
		if since >= rec.last {
			return nil
		}
		p := prefixed(recMsg, key)
		c := b.Cursor()
		size := 0
		for k, v := c.Seek(msgKey(key, since+1)); k != nil && bytes.HasPrefix(k, p) && len(page.Messages) < limit; k, v = c.Next() {
			if len(page.Messages) > 0 && size+len(v) > s.cfg.MaxReadBytes {
				break
			}
			if len(k) != len(p)+8 {
				return fmt.Errorf("message key %x: %w", k, errCorrupt)
			}
			m, err := decodeMsg(binary.BigEndian.Uint64(k[len(p):]), v)
			if err != nil {
				return fmt.Errorf("message key %x: %w", k, err)
			}
			page.Messages = append(page.Messages, m)
			size += len(v)
		}
		return nil
	})
	if err != nil {
		return shardgate.HistoryResult{}, fmt.Errorf("store: read shard %d key %q since %d: %w", shard, key, since, err)
	}
	return page, nil
}

// FirstSeq is the lowest seq of key that retention has not removed: 1 for
// a key that lost none, last_seq+1 when every message is gone.
func (s *Store) FirstSeq(shard int, key string) (uint64, error) {
	rec, err := s.keyRecord(shard, key)
	if err != nil {
		return 0, fmt.Errorf("store: first seq of shard %d key %q: %w", shard, key, err)
	}
	return rec.floor + 1, nil
}

// Cursor is key's read cursor (0 if never acknowledged).
func (s *Store) Cursor(shard int, key string) (uint64, error) {
	if tooLong(key) {
		return 0, nil
	}
	n, err := s.getU64(shard, prefixed(recCursor, key))
	if err != nil {
		return 0, fmt.Errorf("store: cursor of shard %d key %q: %w", shard, key, err)
	}
	return n, nil
}

// Idem reports the seq that the message to `to` from `from` with
// idempotency id `id` got, if that record is still kept.
func (s *Store) Idem(shard int, to, from, id string) (seq uint64, found bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil || tooLong(to, from, id) {
			return nil
		}
		v := b.Get(idemKey(to, from, id))
		seq, found = decodeU64(v), v != nil
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: idem of shard %d key %q: %w", shard, to, err)
	}
	return seq, found, nil
}

// Fence is the shard's fence version (0 if never set).
func (s *Store) Fence(shard int) (uint64, error) {
	n, err := s.getU64(shard, fenceKey)
	if err != nil {
		return 0, fmt.Errorf("store: fence of shard %d: %w", shard, err)
	}
	return n, nil
}

func (s *Store) getU64(shard int, k []byte) (uint64, error) {
	var n uint64
	err := s.view(func(tx *bolt.Tx) error {
		if b := shardBucket(tx, shard); b != nil {
			n = decodeU64(b.Get(k))
		}
		return nil
	})
	return n, err
}

// Shards lists, in ascending order, the shards that hold any data.
func (s *Store) Shards() ([]int, error) {
	var out []int
	err := s.view(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketShards)
		return root.ForEachBucket(func(name []byte) error {
			id, ok := shardID(name)
			if !ok {
				return fmt.Errorf("shard bucket %x: %w", name, errCorrupt)
			}
			// The statistics record sorts last: if it comes first, the
			// shard holds nothing else.
			if k, _ := root.Bucket(name).Cursor().First(); k != nil && k[0] != recStats {
				out = append(out, id)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list shards: %w", err)
	}
	return out, nil
}

// GetMeta returns a copy of the value stored under key, or nil, nil when
// there is none.
func (s *Store) GetMeta(key string) ([]byte, error) {
	var val []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(key)); v != nil {
			val = append([]byte{}, v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: get meta %q: %w", key, err)
	}
	return val, nil
}

// PutMeta stores val under key and returns once it is durable.
func (s *Store) PutMeta(key string, val []byte) error {
	if key == "" {
		return fmt.Errorf("store: put meta: %w", shardgate.Errorf(shardgate.KindInvalid, "meta key is empty"))
	}
	if val == nil {
		val = []byte{} // bbolt would read a nil value back as absent
	}
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), val)
	})
	if err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}
