package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// headerSize is the bytes before each payload: length, checksum, index.
const headerSize = 16

// MaxPayload bounds one record. A length above it in a header can only be
// damage, and reading it must not allocate that much.
const MaxPayload = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTorn says the bytes end inside a record or the record fails its
// checksum: at the end of the last segment, a write the crash cut short.
var ErrTorn = errors.New("wal: torn or damaged record")

// checksum covers the index as well as the payload, so a record copied to
// the wrong place does not pass.
func checksum(index uint64, payload []byte) uint32 {
	var ib [8]byte
	binary.LittleEndian.PutUint64(ib[:], index)
	return crc32.Update(crc32.Checksum(ib[:], castagnoli), castagnoli, payload)
}

// appendRecord appends the encoded record to b.
func appendRecord(b []byte, index uint64, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, checksum(index, payload))
	b = binary.LittleEndian.AppendUint64(b, index)
	return append(b, payload...)
}

// DecodeRecord reads the record at the start of b. It returns the record's
// index, its payload (a sub-slice of b) and its encoded size, or ErrTorn
// when b ends inside the record or its checksum does not match.
func DecodeRecord(b []byte) (index uint64, payload []byte, size int, err error) {
	if len(b) < headerSize {
		return 0, nil, 0, fmt.Errorf("%d bytes left, a header needs %d: %w", len(b), headerSize, ErrTorn)
	}
	n := binary.LittleEndian.Uint32(b)
	sum := binary.LittleEndian.Uint32(b[4:])
	index = binary.LittleEndian.Uint64(b[8:])
	if n > MaxPayload {
		return 0, nil, 0, fmt.Errorf("record length %d is over the limit %d: %w", n, MaxPayload, ErrTorn)
	}
	if uint64(len(b)-headerSize) < uint64(n) {
		return 0, nil, 0, fmt.Errorf("record %d needs %d payload bytes, %d left: %w", index, n, len(b)-headerSize, ErrTorn)
	}
	payload = b[headerSize : headerSize+int(n)]
	if checksum(index, payload) != sum {
		return 0, nil, 0, fmt.Errorf("record %d fails its checksum: %w", index, ErrTorn)
	}
	return index, payload, headerSize + int(n), nil
}
