// Package store keeps a node's durable state in one bbolt file: for every
// shard the inboxes of its keys, their read cursors, idempotency records and
// the shard's fence version; beside them a small meta bucket for the node's
// identity and the last partition table.
//
// Layout. The fixed top-level buckets are created on Open: Meta holds
// GetMeta/PutMeta values and Shards holds one nested bucket per shard, named
// by the shard id as 4 big-endian bytes. Inside a shard bucket every record
// starts with a one-byte kind, and every inbox key is written with a 2-byte
// length prefix, so keys containing NUL bytes (or that are prefixes of each
// other) never collide, and sequence numbers are big-endian so a cursor walks
// an inbox in seq order. The kinds sort so that a snapshot, which walks the
// bucket in key order, emits each key's last_seq/floor record before its
// idempotency records and messages.
//
// Writes. Apply hands its ops to one committer goroutine that takes whatever
// is queued (up to MaxBatchOps ops), applies it in a single read-write
// transaction, syncs once and then answers every caller: many concurrent
// callers share one fsync, and a lone caller is never delayed on purpose.
// Readers use their own read transactions and run beside the committer.
//
// Retention. Each key keeps at most MaxMessages messages (applied on append)
// and, when MaxAge is set, a sweeper trims messages older than MaxAge from
// the front of each inbox. Trimming never lowers a key's last_seq, so a seq
// is never handed out twice, and it raises the key's floor, below which
// HasSeq reports true: those messages existed and were let go on purpose.
// An idempotency record lives as long as the message it names: trimming a
// message drops the (From, ID) record that points at it.
//
// The package knows nothing about the network, the partition table or who
// owns a shard; it must never decide seqs itself (the shard's home does) and
// never block readers behind the committer.
package store
