package store

import (
	"fmt"

	"github.com/shardgate/shardgate"
)

// OpKind says what an Op changes.
type OpKind uint8

// Op kinds. OpLastSeq and OpTrim exist so that Snapshot can carry a key's
// last_seq and trimmed floor even when retention has removed every message
// of the key; callers may use them too.
const (
	// OpMessage puts Msg at Msg.Seq in Key's inbox (overwriting an entry at
	// that seq) and raises Key's last_seq to at least Msg.Seq. A message at
	// or below Key's trimmed floor is ignored: it was already let go.
	OpMessage OpKind = iota + 1
	// OpCursor raises Key's read cursor to Seq (stored as the max).
	OpCursor
	// OpIdem records that the message Key received from From with
	// idempotency id ID got Seq (overwriting an earlier record).
	OpIdem
	// OpFence raises the shard's fence version to Version (stored as max).
	OpFence
	// OpLastSeq raises Key's last_seq to Seq without storing a message.
	OpLastSeq
	// OpTrim drops Key's messages with seq <= Seq and the idempotency
	// records pointing at them, and raises Key's floor (and last_seq) to Seq.
	OpTrim
)

func (k OpKind) String() string {
	switch k {
	case OpMessage:
		return "message"
	case OpCursor:
		return "cursor"
	case OpIdem:
		return "idem"
	case OpFence:
		return "fence"
	case OpLastSeq:
		return "last_seq"
	case OpTrim:
		return "trim"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one change to a shard. Which fields matter depends on Kind.
type Op struct {
	Kind    OpKind
	Shard   int
	Key     string            // the inbox key (recipient) for every kind but OpFence
	Msg     shardgate.Message // OpMessage: Msg.Seq is the seq
	Seq     uint64            // OpCursor, OpIdem, OpLastSeq, OpTrim
	From    string            // OpIdem
	ID      string            // OpIdem
	Version uint64            // OpFence
}

// maxPart bounds every variable-length part of a record key, so that the
// longest composite key (an idempotency record) stays under bbolt's 32 KiB
// key limit. It is far above shardgate.MaxKeyBytes.
const maxPart = 8 << 10

const maxShard = 1<<32 - 1

func validateOp(op *Op) error {
	if op.Shard < 0 || op.Shard > maxShard {
		return shardgate.Errorf(shardgate.KindInvalid, "%s op: shard %d is out of range", op.Kind, op.Shard)
	}
	if op.Kind < OpMessage || op.Kind > OpTrim {
		return shardgate.Errorf(shardgate.KindInvalid, "unknown op kind %d", uint8(op.Kind))
	}
	if op.Kind == OpFence {
		return nil
	}
	if op.Key == "" {
		return shardgate.Errorf(shardgate.KindInvalid, "%s op: key is empty", op.Kind)
	}
	if len(op.Key) > maxPart {
		return shardgate.Errorf(shardgate.KindInvalid, "%s op: key is %d bytes, the limit is %d", op.Kind, len(op.Key), maxPart)
	}
	switch op.Kind {
	case OpMessage:
		if op.Msg.Seq == 0 {
			return shardgate.Errorf(shardgate.KindInvalid, "message op: seq is 0, seqs start at 1")
		}
		if len(op.Msg.From) > maxPart || len(op.Msg.ID) > maxPart {
			return shardgate.Errorf(shardgate.KindInvalid, "message op: from or id is longer than %d bytes", maxPart)
		}
	case OpIdem:
		if op.ID == "" {
			return shardgate.Errorf(shardgate.KindInvalid, "idem op: id is empty")
		}
		if len(op.From) > maxPart || len(op.ID) > maxPart {
			return shardgate.Errorf(shardgate.KindInvalid, "idem op: from or id is longer than %d bytes", maxPart)
		}
	}
	return nil
}

// opBytes estimates the size of op for chunking snapshots.
func opBytes(op *Op) int {
	return 48 + len(op.Key) + len(op.From) + len(op.ID) +
		len(op.Msg.From) + len(op.Msg.ID) + len(op.Msg.Data)
}
