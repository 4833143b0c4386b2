package shardgate

import (
	"bytes"
	"encoding/json"
)

// Limits on the JSON that clients and operators may send. Input is checked
// where it enters (a client frame, an admin request body), so that whatever
// is accepted there also fits every internal frame it later travels in: the
// node-link envelopes around a message add a few levels of nesting, and
// Go's encoding/json refuses anything deeper than 10,000 levels.
const (
	// DefaultMaxJSONDepth is how many levels of arrays and objects a
	// message's data may nest by default.
	DefaultMaxJSONDepth = 32
	// MaxJSONDepthSetting is the largest depth limit a node accepts: far
	// under encoding/json's 10,000, with room for every envelope a message
	// is wrapped in between nodes and in the store's snapshots.
	MaxJSONDepthSetting = 1000
)

// JSONDepth reports how deeply arrays and objects nest in b: 0 for a scalar,
// 1 for [] or {}, 2 for [[]], and so on. It does not validate b (brackets
// inside strings are skipped, whatever else b holds); it allocates nothing
// and, unlike a decoder, never recurses, so it is safe on hostile input of
// any depth.
func JSONDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// MarshalJSON encodes v as json.Marshal does but without HTML escaping:
// json.Marshal turns each <, > and & into a six-byte \u escape, so client
// data would not come back as sent ("a&b" as "a\u0026b"), and a message of
// such characters would grow sixfold on every node link it crosses.
// Nothing shardgate sends is embedded in HTML by the server.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
