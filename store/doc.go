// Package store keeps a node's durable state in one bbolt file and its
// write-ahead log: for every shard the inboxes of its keys, their read
// cursors, idempotency records and the shard's fence version; beside them a
// small meta bucket for the node's identity and the last partition table.
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
// is queued (up to MaxBatchOps ops) as one group: it applies the group to
// the open batch — one long-lived bbolt read-write transaction — appends the
// group's ops to the write-ahead log (package wal, in the directory WALDir,
// Path + ".wal" by default) as one record, syncs the log once and then
// answers every caller. Many concurrent callers share one fdatasync, and a
// lone caller is never delayed on purpose. If the log write fails the batch
// is rebuilt without the group, so an error means nothing of the call was
// stored (unless the log could not even be cut back; then every later write
// fails until the store is reopened).
//
// Materialising. Every MaterializeInterval (500ms) or MaterializeOps (50,000
// ops) the batch is committed to the file, together with the index of its
// last log record (bucket "wal", key "applied"), and the log's segments that
// the file now holds are deleted. bbolt's page writes and its two syncs per
// commit are thus paid once per interval, not once per group. PutMeta,
// PutEvents and DropShard are not logged: they join the batch and
// materialise it at once. Open replays the log records after "applied" into
// the file before anything else; a torn record at the log's very end is a
// write the crash interrupted, and is cut off.
//
// Reads. Readers read the batch itself, under the mutex the committer holds
// from applying a group until its log record is synced: they see every
// acknowledged write and no write that is not acknowledged. When nothing
// waits to be materialised they use read transactions of their own, side by
// side. Snapshot materialises first and then reads in a transaction of its
// own, so a long copy never holds the mutex.

// Retention. Each key keeps at most MaxMessages messages (applied on append)
// and, when MaxAge is set, a sweeper trims messages older than MaxAge from
// the front of each inbox. Trimming never lowers a key's last_seq, so a seq
// is never handed out twice, and it raises the key's floor, below which
// HasSeq reports true: those messages existed and were let go on purpose.
// An idempotency record lives as long as the message it names: trimming a
// message drops the (From, ID) record that points at it, and so does
// storing another send's message at its seq.
//
// The package knows nothing about the network, the partition table or who
// owns a shard; it must never decide seqs itself (the shard's home does),
// and never make a reader wait longer than one group's sync or one
// materialisation.
package store
