package link

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/shardgate/shardgate"
)

// A frame is one WebSocket text message holding a JSON array of envelopes.
// An envelope has one of four shapes:
//
//	request       {"i":7,"m":"method","b":BODY}
//	notification  {"i":0,"m":"method","b":BODY}   (no answer is sent)
//	result        {"i":7,"r":RESULT}
//	error         {"i":7,"e":{"kind":"unavailable","message":"..."}}
//
// Ids are chosen by the side that sends the request and are only meaningful
// on the connection they were sent on.
type envelope struct {
	I uint64          `json:"i"`
	M string          `json:"m,omitempty"`
	B json.RawMessage `json:"b,omitempty"`
	R json.RawMessage `json:"r,omitempty"`
	E *wireError      `json:"e,omitempty"`

	// bad is why the envelope could not be decoded; I and M then hold
	// what could be salvaged, and nothing else is set.
	bad error
}

// wireError is an error as it crosses the wire: shardgate.Kind by its
// stable name, so both ends agree even if the numbering ever changes.
type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// frameOverhead is the "[", "]" around a batch; separators are counted per
// envelope.
const frameOverhead = 2

var jsonNull = json.RawMessage("null")

// The append functions build envelopes by hand because bodies and results
// are already encoded JSON: going through json.Marshal again would re-scan
// (and for snapshot chunks, copy) every byte.

func appendRequest(dst []byte, id uint64, method string, body []byte) []byte {
	dst = append(dst, `{"i":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"m":`...)
	dst = appendString(dst, method)
	dst = append(dst, `,"b":`...)
	dst = append(dst, body...)
	return append(dst, '}')
}

func appendResult(dst []byte, id uint64, result []byte) []byte {
	dst = append(dst, `{"i":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"r":`...)
	dst = append(dst, result...)
	return append(dst, '}')
}

func appendError(dst []byte, id uint64, we wireError) []byte {
	e, _ := json.Marshal(we) // two strings: cannot fail
	dst = append(dst, `{"i":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"e":`...)
	dst = append(dst, e...)
	return append(dst, '}')
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// toWire turns a handler's error into what the caller will see: an
// *shardgate.Error anywhere in the chain keeps its kind and message;
// anything else becomes its kind by shardgate.KindOf and its full text.
func toWire(err error) wireError {
	var e *shardgate.Error
	if errors.As(err, &e) && e.Message != "" {
		return wireError{Kind: e.Kind.String(), Message: e.Message}
	}
	return wireError{Kind: shardgate.KindOf(err).String(), Message: err.Error()}
}

// fromWire rebuilds the remote error on the calling side.
func fromWire(we *wireError) *shardgate.Error {
	return &shardgate.Error{Kind: shardgate.KindFromString(we.Kind), Message: we.Message}
}

var (
	errNotArray      = errors.New("frame is not a JSON array")
	errMixedShape    = errors.New("envelope mixes request and response fields")
	errNoID          = errors.New("response has no id")
	errResultAndErr  = errors.New("response has both a result and an error")
	errBodyOnAnswer  = errors.New("response carries a request body")
	errEmptyEnvelope = errors.New("envelope is neither a request nor a response")
	errTruncated     = errors.New("frame is not a well-formed JSON array after this point")
)

// decodeFrame parses one frame read from the network. It is strict about
// shapes so that a confused or hostile peer is noticed rather than
// half-understood, and it normalises absent bodies and results to null so
// every accepted envelope has exactly one meaning. An envelope that cannot
// be decoded (malformed, of the wrong shape, nested deeper than
// encoding/json accepts) does not spoil the others: it comes back with bad
// set and whatever id and method could be salvaged, so that only the call
// it belongs to fails. The error is for a frame of which nothing at all
// could be read.
func decodeFrame(data []byte) ([]envelope, error) {
	var envs []envelope
	if err := json.Unmarshal(data, &envs); err != nil || envs == nil {
		return decodeEach(data)
	}
	for i := range envs {
		if err := envs[i].normalise(); err != nil {
			envs[i] = envelope{I: envs[i].I, M: envs[i].M, bad: err}
		}
	}
	return envs, nil
}

// decodeEach is the slow path of decodeFrame: the frame is split without
// decoding it, then each envelope is decoded on its own.
func decodeEach(data []byte) ([]envelope, error) {
	elems, ok := splitArray(data)
	if len(elems) == 0 && !ok {
		return nil, fmt.Errorf("link: decode frame: %w", errNotArray)
	}
	envs := make([]envelope, 0, len(elems)+1)
	for _, elem := range elems {
		var e envelope
		err := json.Unmarshal(elem, &e)
		if err == nil {
			err = e.normalise()
		}
		if err != nil {
			e = salvage(elem)
			e.bad = err
		}
		envs = append(envs, e)
	}
	if !ok {
		// The rest of the frame is unreadable: whatever it held is lost, and
		// the calls it answered time out.
		envs = append(envs, envelope{bad: errTruncated})
	}
	return envs, nil
}
func (e *envelope) normalise() error {
	if e.M != "" {
		if e.R != nil || e.E != nil {
			return errMixedShape
		}
		if e.B == nil {
			e.B = jsonNull
		}
		return nil
	}
	switch {
	case e.I == 0 && e.B == nil && e.R == nil && e.E == nil:
		return errEmptyEnvelope
	case e.I == 0:
		return errNoID
	case e.B != nil:
		return errBodyOnAnswer
	case e.E != nil && e.R != nil:
		return errResultAndErr
	case e.E == nil && e.R == nil:
		e.R = jsonNull
	}
	return nil
}

// encode is the inverse of decodeFrame for one envelope; the fuzz test holds
// the two to that.
func (e *envelope) encode(dst []byte) []byte {
	switch {
	case e.M != "":
		return appendRequest(dst, e.I, e.M, e.B)
	case e.E != nil:
		return appendError(dst, e.I, *e.E)
	default:
		return appendResult(dst, e.I, e.R)
	}
}
