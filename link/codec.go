package link

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link/wire"
)

// headerCodec carries the codec negotiation: the dialer lists the versions
// it speaks ("1,2"), the acceptor answers the one it chose. A node that
// predates the header neither sends nor answers it, and both ends then
// fall back to version 1, so a cluster can be upgraded one node at a time.
// The header is not signed (older nodes sign without it): a man in the
// middle without TLS could force version 1, which costs speed, not safety.
const headerCodec = "X-Shardgate-Link-Codec"

// offerCodecs is what this node offers up to its highest version max.
func offerCodecs(max int32) string {
	if max >= codecBinary {
		return "1,2"
	}
	return ""
}

// pickCodec chooses the highest version both sides speak from a dialer's
// offer; an absent or unreadable offer is an old node: version 1.
func pickCodec(offer string, max int32) int32 {
	best := int32(codecJSON)
	for _, f := range strings.Split(offer, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && int32(v) <= max && int32(v) > best {
			best = int32(v)
		}
	}
	return best
}

// answeredCodec is the version an acceptor chose, as the dialer reads it.
// An acceptor that answers nothing is an old node (version 1); one that
// answers a version we did not offer gets version 1 too, which every node
// speaks.
func answeredCodec(h http.Header, max int32) int32 {
	if v, err := strconv.Atoi(h.Get(headerCodec)); err == nil && v == codecBinary && max >= codecBinary {
		return codecBinary
	}
	return codecJSON
}

// Envelope buffers come from a pool and go back once written: the writer
// copies them into the socket's buffer, after which nothing refers to them.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBuf keeps the rare huge envelope (a snapshot chunk) out of the
// pool, so a burst of them does not pin memory.
const maxPooledBuf = 64 << 10

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= maxPooledBuf {
		bufPool.Put(&b)
	}
}

// requestEnvelope encodes a request (id 0: a notification) in c's codec.
func (c *conn) requestEnvelope(id uint64, method string, req any) ([]byte, error) {
	if c.codec == codecBinary {
		return appendBody(appendRequestBin(getBuf(), id, method), req)
	}
	body, err := shardgate.MarshalJSON(req)
	if err != nil {
		return nil, shardgate.Errorf(shardgate.KindInvalid, "encode request: %w", err)
	}
	return appendRequest(getBuf(), id, method, body), nil
}

// resultEnvelope encodes a handler's result in c's codec.
func (c *conn) resultEnvelope(id uint64, method string, res any) ([]byte, error) {
	if c.codec == codecBinary {
		env, err := appendBody(appendResultBin(getBuf(), id), res)
		if err != nil {
			return nil, shardgate.Errorf(shardgate.KindInternal, "encode result of %s: %w", method, err)
		}
		return env, nil
	}
	body, err := shardgate.MarshalJSON(res)
	if err != nil {
		return nil, shardgate.Errorf(shardgate.KindInternal, "encode result of %s: %w", method, err)
	}
	return appendResult(getBuf(), id, body), nil
}

// errorEnvelope encodes an error answer in c's codec.
func (c *conn) errorEnvelope(id uint64, err error) []byte {
	if c.codec == codecBinary {
		return appendErrorBin(getBuf(), id, toWire(err))
	}
	return appendError(getBuf(), id, toWire(err))
}

// appendBody appends v's binary form if it has one, else its JSON.
func appendBody(dst []byte, v any) ([]byte, error) {
	if a, ok := v.(wire.Appender); ok {
		return wire.Append(dst, a), nil
	}
	body, err := shardgate.MarshalJSON(v)
	if err != nil {
		if dst != nil {
			putBuf(dst)
		}
		return nil, shardgate.Errorf(shardgate.KindInvalid, "encode: %w", err)
	}
	return append(dst, body...), nil
}
