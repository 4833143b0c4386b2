package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Marker is the first byte of every binary body. No JSON text can start
// with it (JSON may start only with whitespace, a letter, a digit, '-',
// '"', '[' or '{'), so a body tells by itself which form it is in.
const Marker = 0x00

// Appender is a value with a binary form on the node links.
type Appender interface {
	// LinkTag names the type and its layout. Decoders refuse a body whose
	// tag is not theirs, so a change of layout takes a new tag.
	LinkTag() byte
	// AppendLink appends the binary form (without marker and tag) to dst.
	AppendLink(dst []byte) []byte
}

// Decoder is a value that can be read from its binary form.
type Decoder interface {
	LinkTag() byte
	// DecodeLink reads the value from r. Implementations read with r's
	// methods only, which bound every length and count; r's error, if
	// any, is reported by Decode.
	DecodeLink(r *Reader)
}

// Append appends v's body: Marker, tag, then v's own encoding.
func Append(dst []byte, v Appender) []byte {
	dst = append(dst, Marker, v.LinkTag())
	return v.AppendLink(dst)
}

// IsBinary reports whether body is a binary body rather than JSON.
func IsBinary(body []byte) bool { return len(body) >= 2 && body[0] == Marker }

// Errors of Decode, inside the returned error.
var (
	// ErrNoBinaryForm: the body is binary but the target type has none.
	ErrNoBinaryForm = errors.New("binary body for a type without a binary form")
	// ErrWrongTag: the body is the binary form of another type or layout.
	ErrWrongTag = errors.New("binary body of another type")
	// ErrTrailing: bytes are left over after the value.
	ErrTrailing = errors.New("bytes left after the value")
)

// Decode reads body into v: from its binary form when body has one
// (v must then be a Decoder of the same tag), else as JSON. Slices of
// bytes in v (raw JSON data) may alias body.
func Decode(body []byte, v any) error {
	if !IsBinary(body) {
		return json.Unmarshal(body, v)
	}
	d, ok := v.(Decoder)
	if !ok {
		return fmt.Errorf("%w (%T)", ErrNoBinaryForm, v)
	}
	if body[1] != d.LinkTag() {
		return fmt.Errorf("%w: tag %d, %T has %d", ErrWrongTag, body[1], v, d.LinkTag())
	}
	r := NewReader(body[2:])
	d.DecodeLink(r)
	return r.Finish()
}

// AppendUvarint appends x as an unsigned varint.
func AppendUvarint(dst []byte, x uint64) []byte { return binary.AppendUvarint(dst, x) }

// AppendVarint appends x as a zig-zag varint.
func AppendVarint(dst []byte, x int64) []byte { return binary.AppendVarint(dst, x) }

// AppendBool appends b as one byte.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendString appends s with its length in front.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends b with its length in front.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}
