package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shardgate/shardgate"
)

// Record kinds: the first byte of every key in a shard bucket. Their order
// is the order Snapshot emits them in, and it matters: a key's floor must
// reach the other store before its idempotency records and messages.
const (
	recKey    byte = 0x01 // lp(key) -> keyRec
	recCursor byte = 0x02 // lp(key) -> seq
	recIdem   byte = 0x03 // lp(to) lp(from) id -> seq
	recMsg    byte = 0x04 // lp(key) seq -> message
	recFence  byte = 0x05 // -> version
	recStats  byte = 0x06 // -> messages, bytes; never snapshotted
)

var (
	fenceKey = []byte{recFence}
	statsKey = []byte{recStats}
)

// msgFormat is the first byte of an encoded message, so the layout can change
// later without guessing.
const msgFormat byte = 1

var errCorrupt = errors.New("corrupt record")

// appendLP appends s with a 2-byte big-endian length prefix. Length
// prefixing, not a separator, is what keeps keys with NUL bytes apart.
func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// readLP splits a length-prefixed string off the front of b.
func readLP(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errCorrupt
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, errCorrupt
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// prefixed is kind + lp(key): every record of that kind for key starts so.
func prefixed(kind byte, key string) []byte {
	b := make([]byte, 0, 3+len(key)+8)
	b = append(b, kind)
	return appendLP(b, key)
}

func msgKey(key string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefixed(recMsg, key), seq)
}

func idemPrefix(to string) []byte { return prefixed(recIdem, to) }

func idemKey(to, from, id string) []byte {
	b := appendLP(prefixed(recIdem, to), from)
	return append(b, id...)
}

// keyRec is the per-key bookkeeping record: the highest seq ever stored (it
// survives trimming), the trimmed floor and the number of stored messages.
type keyRec struct {
	last, floor, count uint64
}

func (r keyRec) encode() []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, r.last)
	b = binary.BigEndian.AppendUint64(b, r.floor)
	return binary.BigEndian.AppendUint64(b, r.count)
}

func decodeKeyRec(v []byte) (keyRec, error) {
	if v == nil {
		return keyRec{}, nil
	}
	if len(v) != 24 {
		return keyRec{}, fmt.Errorf("key record of %d bytes: %w", len(v), errCorrupt)
	}
	return keyRec{
		last:  binary.BigEndian.Uint64(v),
		floor: binary.BigEndian.Uint64(v[8:]),
		count: binary.BigEndian.Uint64(v[16:]),
	}, nil
}

func encodeU64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// decodeU64 reads an 8-byte value; absent (nil) reads as 0.
func decodeU64(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// encodeMsg lays a message out as format, ts (8 bytes, so the sweeper can
// read it without decoding), uvarint-prefixed from and id, then the raw data.
// The seq lives in the record key.
func encodeMsg(m *shardgate.Message) []byte {
	b := make([]byte, 0, 1+8+2*binary.MaxVarintLen16+len(m.From)+len(m.ID)+len(m.Data))
	b = append(b, msgFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(m.TS))
	b = binary.AppendUvarint(b, uint64(len(m.From)))
	b = append(b, m.From...)
	b = binary.AppendUvarint(b, uint64(len(m.ID)))
	b = append(b, m.ID...)
	return append(b, m.Data...)
}

// msgTS reads only the timestamp of an encoded message.
func msgTS(v []byte) (int64, error) {
	if len(v) < 9 || v[0] != msgFormat {
		return 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(v[1:])), nil
}

// decodeMsg copies everything out of v, which belongs to a transaction.
func decodeMsg(seq uint64, v []byte) (shardgate.Message, error) {
	ts, err := msgTS(v)
	if err != nil {
		return shardgate.Message{}, err
	}
	rest := v[9:]
	from, rest, err := readUvarintString(rest)
	if err != nil {
		return shardgate.Message{}, err
	}
	id, rest, err := readUvarintString(rest)
	if err != nil {
		return shardgate.Message{}, err
	}
	m := shardgate.Message{Seq: seq, From: from, TS: ts, ID: id}
	if len(rest) > 0 {
		m.Data = append([]byte(nil), rest...)
	}
	return m, nil
}

func readUvarintString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errCorrupt
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// msgFromID reads only the From and ID of an encoded message.
func msgFromID(v []byte) (from, id string, err error) {
	if _, err = msgTS(v); err != nil {
		return "", "", err
	}
	from, rest, err := readUvarintString(v[9:])
	if err != nil {
		return "", "", err
	}
	id, _, err = readUvarintString(rest)
	return from, id, err
}

// shardName is the nested bucket name of a shard.
func shardName(shard int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(shard)) }

func shardID(name []byte) (int, bool) {
	if len(name) != 4 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(name)), true
}
