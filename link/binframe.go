package link

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link/wire"
)

// Link codec versions, agreed in the handshake (headerCodec).
//
//	1  a WebSocket text message per frame holding a JSON array of JSON
//	   envelopes (frame.go); every body is JSON. Spoken by nodes that do
//	   not send headerCodec, and by this one to them.
//	2  a WebSocket binary message per frame (below); bodies are JSON, or
//	   the binary form (link/wire) of values that have one.
const (
	codecJSON   = 1
	codecBinary = 2
)

// A version 2 frame is one WebSocket binary message:
//
//	frame     = version(1 byte, = 2) { uvarint(len(envelope)) envelope }
//	envelope  = kind(1 byte) uvarint(id) rest
//	request   kind 1: rest = uvarint(len) method, body        (id 0: a notification)
//	result    kind 2: rest = body
//	error     kind 3: rest = uvarint(len) kind-name, uvarint(len) message
//
// A body runs to the end of its envelope: JSON text, or wire.Marker, a
// type tag and a binary form. Each envelope carries its own length, so one
// that cannot be decoded spoils nothing else in its frame.
const (
	kindRequest byte = 1
	kindResult  byte = 2
	kindError   byte = 3
)

// Bounds on what a version 2 envelope may hold besides its body; the frame
// size (Config.MaxFrameBytes) bounds bodies and the number of envelopes.
const (
	maxMethodBytes   = 256
	maxErrKindBytes  = 64
	maxErrMessageLen = 64 << 10
	// maxBodyDepth bounds the nesting of a JSON body: far above what a
	// node accepts from clients (shardgate.MaxJSONDepthSetting) plus the
	// objects wrapped around it, far below encoding/json's 10,000, so a
	// body that arrives here can always be decoded and re-encoded.
	maxBodyDepth = 4 * shardgate.MaxJSONDepthSetting
)

// envelopeOverhead is what the frame adds to each envelope, at most: its
// length as a varint (version 2), or a separator (version 1).
const envelopeOverhead = binary.MaxVarintLen64

var (
	errFrameVersion = errors.New("frame of an unknown codec version")
	errEnvelopeKind = errors.New("envelope of an unknown kind")
	errBodyTooDeep  = fmt.Errorf("JSON body nested deeper than %d levels", maxBodyDepth)
)

func appendRequestBin(dst []byte, id uint64, method string) []byte {
	dst = append(dst, kindRequest)
	dst = binary.AppendUvarint(dst, id)
	return wire.AppendString(dst, method)
}

func appendResultBin(dst []byte, id uint64) []byte {
	dst = append(dst, kindResult)
	return binary.AppendUvarint(dst, id)
}

func appendErrorBin(dst []byte, id uint64, we wireError) []byte {
	dst = append(dst, kindError)
	dst = binary.AppendUvarint(dst, id)
	dst = wire.AppendString(dst, we.Kind)
	if len(we.Message) > maxErrMessageLen {
		we.Message = we.Message[:maxErrMessageLen]
	}
	return wire.AppendString(dst, we.Message)
}

// decodeBinFrame parses a version 2 frame. As decodeFrame, it fails only
// the envelopes it cannot read, marking them bad with whatever id and
// method came before the damage; a length prefix that cannot be trusted
// makes the rest of the frame unreadable, which ends the list with one bad
// envelope. The error is for a frame of another version.
func decodeBinFrame(data []byte) ([]envelope, error) {
	if len(data) == 0 || data[0] != codecBinary {
		return nil, fmt.Errorf("link: decode frame: %w", errFrameVersion)
	}
	r := wire.NewReader(data[1:])
	var envs []envelope
	for r.Len() > 0 {
		elem := r.Bytes(r.Len())
		if r.Err() != nil {
			envs = append(envs, envelope{bad: errTruncated})
			break
		}
		envs = append(envs, decodeBinEnvelope(elem))
	}
	return envs, nil
}

func decodeBinEnvelope(b []byte) envelope {
	var e envelope
	r := wire.NewReader(b)
	kind := r.Byte()
	id := r.Uvarint()
	if r.Err() != nil {
		return envelope{bad: r.Err()}
	}
	e.I = id
	switch kind {
	case kindRequest:
		e.M = r.String(maxMethodBytes)
		if r.Err() == nil && e.M == "" {
			r.Fail(errEmptyEnvelope)
		}
		e.B = jsonBody(r, b)
	case kindResult:
		if id == 0 {
			r.Fail(errNoID)
		}
		e.R = jsonBody(r, b)
	case kindError:
		if id == 0 {
			r.Fail(errNoID)
		}
		we := wireError{Kind: r.String(maxErrKindBytes), Message: r.String(maxErrMessageLen)}
		_ = r.Finish()
		e.E = &we
	default:
		r.Fail(errEnvelopeKind)
	}
	if err := r.Err(); err != nil {
		return envelope{I: e.I, M: e.M, bad: err}
	}
	return e
}

// jsonBody takes the rest of envelope b as its body: null when empty, as
// version 1 normalises absent bodies; a JSON one is refused when nested
// deeper than maxBodyDepth. Binary bodies are read by their decoders.
func jsonBody(r *wire.Reader, b []byte) []byte {
	if r.Err() != nil {
		return nil
	}
	body := b[len(b)-r.Len():]
	switch {
	case len(body) == 0:
		return jsonNull
	case !wire.IsBinary(body) && shardgate.JSONDepth(body) > maxBodyDepth:
		r.Fail(errBodyTooDeep)
		return nil
	}
	return body
}
