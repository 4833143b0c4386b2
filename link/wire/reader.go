package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Reader reads a binary body. Every length and count it reads is checked
// against the bytes that remain and against a limit the caller gives, so a
// hostile body can make it allocate no more than its own size. The first
// failure sticks: later reads return zero values, and Err or Finish report
// it, so decoders read field after field without checking each one.
type Reader struct {
	b   []byte
	err error
}

// Errors of a Reader, inside its error.
var (
	ErrShort    = errors.New("body ends inside a value")
	ErrOverflow = errors.New("varint overflows 64 bits")
	ErrTooLong  = errors.New("length over its limit")
	ErrTooMany  = errors.New("count over its limit")
	ErrBadBool  = errors.New("bool is neither 0 nor 1")
	ErrBadJSON  = errors.New("data is not valid JSON")
)

// NewReader returns a Reader of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Fail records err (with context) unless a failure is already recorded.
// Decoders use it for values that read well but make no sense.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("wire: %w", err)
	}
}

// Finish is Err, or ErrTrailing if bytes are left.
func (r *Reader) Finish() error {
	if r.err == nil && len(r.b) > 0 {
		r.Fail(fmt.Errorf("%w (%d)", ErrTrailing, len(r.b)))
	}
	return r.err
}

// Len is the number of bytes left.
func (r *Reader) Len() int { return len(r.b) }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.Fail(ErrShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	switch r.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.Fail(ErrBadBool)
	return false
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if !r.skipVarint(n) {
		return 0
	}
	return x
}

// Varint reads a zig-zag varint.
func (r *Reader) Varint() int64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Varint(r.b)
	if !r.skipVarint(n) {
		return 0
	}
	return x
}

// Int reads an unsigned varint that must be at most max.
func (r *Reader) Int(max int) int {
	x := r.Uvarint()
	if x > uint64(max) {
		r.Fail(fmt.Errorf("%w: %d > %d", ErrTooLong, x, max))
		return 0
	}
	return int(x)
}

// Count reads the number of elements of a list: at most max, and at most
// the bytes left divided by minSize (each element's smallest encoding), so
// that a slice made with it is never larger than the body warrants.
func (r *Reader) Count(max, minSize int) int {
	n := r.Uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(max) || n*uint64(minSize) > uint64(len(r.b)) {
		r.Fail(fmt.Errorf("%w: %d elements (limit %d, %d bytes left)", ErrTooMany, n, max, len(r.b)))
		return 0
	}
	return int(n)
}

// Bytes reads a length-prefixed byte string of at most max bytes. The
// result aliases the body; nil for an empty one.
func (r *Reader) Bytes(max int) []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	switch {
	case n > uint64(max):
		r.Fail(fmt.Errorf("%w: %d bytes > %d", ErrTooLong, n, max))
		return nil
	case n > uint64(len(r.b)):
		r.Fail(ErrShort)
		return nil
	case n == 0:
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// String reads a length-prefixed string of at most max bytes.
func (r *Reader) String(max int) string { return string(r.Bytes(max)) }

// JSON reads length-prefixed raw JSON of at most max bytes and checks that
// it is valid JSON (encoding/json's scanner, which also bounds nesting);
// empty stays empty. The result is a copy: message data outlives the frame
// (in delivery queues), and must not pin the whole frame in memory.
func (r *Reader) JSON(max int) json.RawMessage {
	b := r.Bytes(max)
	if len(b) > 0 && !json.Valid(b) {
		r.Fail(ErrBadJSON)
		return nil
	}
	return bytes.Clone(b)
}

// skipVarint consumes the n bytes binary.Uvarint or binary.Varint read, or
// fails the reader as their n says: 0 for too few bytes, below 0 for an
// overflow.
func (r *Reader) skipVarint(n int) bool {
	switch {
	case n == 0:
		r.Fail(ErrShort)
		return false
	case n < 0:
		r.Fail(ErrOverflow)
		return false
	}
	r.b = r.b[n:]
	return true
}
