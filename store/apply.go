package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/shardgate/shardgate"
)

// txWriter applies ops inside one read-write transaction. Per-key records
// and shard statistics are read once, changed in memory and written back by
// flush, so a batch with many messages for one key writes its record once.
type txWriter struct {
	root        *bolt.Bucket
	maxMessages uint64
	shards      map[int]*shardTx
}

type shardTx struct {
	b     *bolt.Bucket
	stats shardStats
	keys  map[string]*keyState
}

type keyState struct {
	rec, orig keyRec
}

func newTxWriter(tx *bolt.Tx, maxMessages int) *txWriter {
	return &txWriter{
		root:        tx.Bucket(bucketShards),
		maxMessages: uint64(maxMessages),
		shards:      make(map[int]*shardTx),
	}
}

func (w *txWriter) shard(id int) (*shardTx, error) {
	if st, ok := w.shards[id]; ok {
		return st, nil
	}
	b, err := w.root.CreateBucketIfNotExists(shardName(id))
	if err != nil {
		return nil, fmt.Errorf("create shard bucket: %w", err)
	}
	st := &shardTx{b: b, stats: decodeStats(b.Get(statsKey)), keys: make(map[string]*keyState)}
	w.shards[id] = st
	return st, nil
}

func (st *shardTx) key(k string) (*keyState, error) {
	if ks, ok := st.keys[k]; ok {
		return ks, nil
	}
	rec, err := decodeKeyRec(st.b.Get(prefixed(recKey, k)))
	if err != nil {
		return nil, err
	}
	ks := &keyState{rec: rec, orig: rec}
	st.keys[k] = ks
	return ks, nil
}

func (w *txWriter) apply(op *Op) error {
	st, err := w.shard(op.Shard)
	if err != nil {
		return err
	}
	switch op.Kind {
	case OpFence:
		return putMax(st.b, fenceKey, op.Version)
	case OpCursor:
		return putMax(st.b, prefixed(recCursor, op.Key), op.Seq)
	case OpIdem:
		return st.b.Put(idemKey(op.Key, op.From, op.ID), encodeU64(op.Seq))
	}
	ks, err := st.key(op.Key)
	if err != nil {
		return err
	}
	switch op.Kind {
	case OpMessage:
		return w.putMessage(st, ks, op)
	case OpLastSeq:
		ks.rec.last = max(ks.rec.last, op.Seq)
		return nil
	case OpTrim:
		return st.trim(ks, op.Key, op.Seq)
	}
	return fmt.Errorf("unknown op kind %d", uint8(op.Kind))
}

// putMax stores n at k unless a larger value is there already.
func putMax(b *bolt.Bucket, k []byte, n uint64) error {
	if n <= decodeU64(b.Get(k)) {
		return nil
	}
	return b.Put(k, encodeU64(n))
}

func (w *txWriter) putMessage(st *shardTx, ks *keyState, op *Op) error {
	seq := op.Msg.Seq
	if seq <= ks.rec.floor {
		return nil // trimmed already; storing it would bring it back
	}
	k, v := msgKey(op.Key, seq), encodeMsg(&op.Msg)
	if old := st.b.Get(k); old != nil {
		st.stats.bytes += int64(len(v) - len(old))
		if err := st.dropReplacedRecord(op.Key, old, &op.Msg); err != nil {
			return err
		}
	} else {
		ks.rec.count++
		st.stats.messages++
		st.stats.bytes += int64(len(k) + len(v))
	}
	if err := st.b.Put(k, v); err != nil {
		return err
	}
	ks.rec.last = max(ks.rec.last, seq)
	for w.maxMessages > 0 && ks.rec.count > w.maxMessages {
		if err := st.trimOldest(ks, op.Key); err != nil {
			return err
		}
	}
	return nil
}

// trimOldest drops the key's oldest message, and the idempotency record
// that names it, and raises the floor to its seq.
func (st *shardTx) trimOldest(ks *keyState, key string) error {
	p := prefixed(recMsg, key)
	k, v := st.b.Cursor().Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+8 {
		return fmt.Errorf("key %q counts %d messages but has none: %w", key, ks.rec.count, errCorrupt)
	}
	seq := binary.BigEndian.Uint64(k[len(p):])
	from, id, err := msgFromID(v)
	if err != nil {
		return err
	}
	if err := st.deleteMsg(ks, k, len(v)); err != nil {
		return err
	}
	ks.rec.floor = max(ks.rec.floor, seq)
	if id == "" {
		return nil
	}
	ik := idemKey(key, from, id)
	if iv := st.b.Get(ik); iv != nil && decodeU64(iv) == seq {
		return st.b.Delete(ik)
	}
	return nil
}

// dropReplacedRecord deletes the idempotency record of the message old
// when m, another send's message, replaces it at its seq (a home's write
// that never reached a backup, replaced there by the next home's write):
// a record lives as long as the message it names, and a record naming
// someone else's message would answer a retry with that message's seq.
func (st *shardTx) dropReplacedRecord(key string, old []byte, m *shardgate.Message) error {
	from, id, err := msgFromID(old)
	if err != nil {
		return err
	}
	if id == "" || (from == m.From && id == m.ID) {
		return nil
	}
	ik := idemKey(key, from, id)
	if iv := st.b.Get(ik); iv != nil && decodeU64(iv) == m.Seq {
		return st.b.Delete(ik)
	}
	return nil
}

func (st *shardTx) deleteMsg(ks *keyState, k []byte, vlen int) error {
	klen := len(k)
	if err := st.b.Delete(append([]byte(nil), k...)); err != nil {
		return err
	}
	ks.rec.count--
	st.stats.messages--
	st.stats.bytes -= int64(klen + vlen)
	return nil
}

// trim drops every message of key with seq <= upto and every idempotency
// record of key pointing at or below upto, and raises floor and last_seq.
func (st *shardTx) trim(ks *keyState, key string, upto uint64) error {
	type dead struct {
		k    []byte
		vlen int
	}
	var msgs []dead
	p := prefixed(recMsg, key)
	c := st.b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if len(k) != len(p)+8 || binary.BigEndian.Uint64(k[len(p):]) > upto {
			break
		}
		msgs = append(msgs, dead{append([]byte(nil), k...), len(v)})
	}
	var idems [][]byte
	ip := idemPrefix(key)
	for k, v := c.Seek(ip); k != nil && bytes.HasPrefix(k, ip); k, v = c.Next() {
		if decodeU64(v) <= upto {
			idems = append(idems, append([]byte(nil), k...))
		}
	}
	// Deleting after the walks: bbolt cursors do not promise to stay
	// put across deletes.
	for _, d := range msgs {
		if err := st.deleteMsg(ks, d.k, d.vlen); err != nil {
			return err
		}
	}
	for _, k := range idems {
		if err := st.b.Delete(k); err != nil {
			return err
		}
	}
	ks.rec.floor = max(ks.rec.floor, upto)
	ks.rec.last = max(ks.rec.last, upto)
	return nil
}

// flush writes changed key records and the statistics of every shard the
// transaction touched.
func (w *txWriter) flush() error {
	for _, st := range w.shards {
		for k, ks := range st.keys {
			if ks.rec == ks.orig {
				continue
			}
			if err := st.b.Put(prefixed(recKey, k), ks.rec.encode()); err != nil {
				return err
			}
			ks.orig = ks.rec
		}
		if err := st.b.Put(statsKey, st.stats.encode()); err != nil {
			return err
		}
	}
	return nil
}

// stats are the statistics of the touched shards as of this transaction.
func (w *txWriter) stats() map[int]shardStats {
	out := make(map[int]shardStats, len(w.shards))
	for id, st := range w.shards {
		out[id] = st.stats
	}
	return out
}
