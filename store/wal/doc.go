// Package wal is an append-only write-ahead log of opaque records kept in
// segment files, the durability half of the store: a record is on disk once
// Append returns (one fdatasync per call, so a caller that groups many
// writes into one record pays for one sync).
//
// Format. A segment is named by the index of its first record, as 16 hex
// digits and ".wal". Each record is a 16-byte header — payload length
// (uint32), CRC-32C of the index and payload (uint32), index (uint64), all
// little endian — followed by the payload. Indexes are consecutive across
// segments. The segment being written is kept longer than its records:
// space for the next megabyte of them is allocated ahead (zeros), so that
// a sync need not record a new file size on every append. Zeros after the
// last record of a segment are that space, not damage; Close cuts them off.
//
// Recovery. Open reads every segment in order. A record that is cut short or
// fails its checksum at the end of the last segment, with nothing intact
// after it, is a torn write from a crash during Append: the segment is
// truncated there and the log goes on. Each Append syncs its record before
// the next is written, so damage followed by an intact record (of a higher
// index) is not a torn write, and neither is damage in any other segment:
// that is corruption of records that were acknowledged, and Open refuses it
// (ErrCorrupt) rather than drop them.
//
// Failures. If a write or sync fails, Append truncates the segment back to
// where the record started, so an error means the record is not in the log.
// If even that fails, the log refuses every later Append: its tail is
// unknown until it is opened again.
//
// The package knows nothing of what records mean; the store decides what
// goes in them and when segments may be released.
package wal
