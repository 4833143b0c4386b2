package store

import (
	"encoding/binary"
	"fmt"

	"github.com/shardgate/shardgate"
)

// walFormat is the first byte of every log record the store writes, so the
// layout can change later without guessing.
const walFormat byte = 1

// A log record holds the ops of one group commit, in the order they were
// applied: format, uvarint op count, then per op its kind, uvarint shard,
// uvarint-prefixed key and the fields of its kind (seqs and versions as
// uvarints, the timestamp as a varint, strings and data uvarint-prefixed).

// appendGroup encodes ops onto b.
func appendGroup(b []byte, ops []Op) []byte {
	b = append(b, walFormat)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for i := range ops {
		b = appendOp(b, &ops[i])
	}
	return b
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOp(b []byte, op *Op) []byte {
	b = append(b, byte(op.Kind))
	b = binary.AppendUvarint(b, uint64(op.Shard))
	b = appendBytes(b, op.Key)
	switch op.Kind {
	case OpMessage:
		m := &op.Msg
		b = binary.AppendUvarint(b, m.Seq)
		b = binary.AppendVarint(b, m.TS)
		b = appendBytes(b, m.From)
		b = appendBytes(b, m.ID)
		b = binary.AppendUvarint(b, uint64(len(m.Data)))
		b = append(b, m.Data...)
	case OpIdem:
		b = binary.AppendUvarint(b, op.Seq)
		b = appendBytes(b, op.From)
		b = appendBytes(b, op.ID)
	case OpFence:
		b = binary.AppendUvarint(b, op.Version)
	default:
		b = binary.AppendUvarint(b, op.Seq)
	}
	return b
}

// groupReader reads one record; its first error sticks.
type groupReader struct {
	b   []byte
	err error
}

func (r *groupReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[k:]
	return n
}

func (r *groupReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Varint(r.b)
	if k <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[k:]
	return n
}

func (r *groupReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *groupReader) str() string { return string(r.bytes()) }

// decodeGroup decodes a record written by appendGroup and validates every
// op as Apply would. Data is copied out of b.
func decodeGroup(b []byte) ([]Op, error) {
	if len(b) == 0 || b[0] != walFormat {
		return nil, fmt.Errorf("log record of unknown format: %w", errCorrupt)
	}
	r := &groupReader{b: b[1:]}
	n := r.uvarint()
	// Every op takes at least three bytes, which bounds what a damaged
	// count can make us allocate.
	if r.err != nil || n > uint64(len(r.b))/3 {
		return nil, fmt.Errorf("log record op count: %w", errCorrupt)
	}
	ops := make([]Op, 0, n)
	for i := range n {
		op, err := r.op()
		if err != nil {
			return nil, fmt.Errorf("log record op %d: %w", i, err)
		}
		ops = append(ops, op)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("log record has %d bytes after its ops: %w", len(r.b), errCorrupt)
	}
	return ops, nil
}

func (r *groupReader) op() (Op, error) {
	if len(r.b) == 0 {
		return Op{}, errCorrupt
	}
	op := Op{Kind: OpKind(r.b[0])}
	r.b = r.b[1:]
	shard := r.uvarint()
	if shard > maxShard {
		return Op{}, errCorrupt
	}
	op.Shard = int(shard)
	op.Key = r.str()
	switch op.Kind {
	case OpMessage:
		op.Msg = shardgate.Message{Seq: r.uvarint(), TS: r.varint(), From: r.str(), ID: r.str()}
		if data := r.bytes(); len(data) > 0 {
			op.Msg.Data = append([]byte(nil), data...)
		}
	case OpIdem:
		op.Seq, op.From, op.ID = r.uvarint(), r.str(), r.str()
	case OpFence:
		op.Version = r.uvarint()
	default:
		op.Seq = r.uvarint()
	}
	if r.err != nil {
		return Op{}, r.err
	}
	if err := validateOp(&op); err != nil {
		return Op{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return op, nil
}
