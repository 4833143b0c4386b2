package link

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/internal/jsonscan"
)

// A lenient scanner for frames the strict decoder refused. It finds the
// envelopes of a frame and the id and method of an envelope without
// validating them and without recursion, so nesting of any depth costs only
// a counter: enough to fail the one call an undecodable envelope belongs
// to instead of the whole connection.

// splitArray returns the elements of the JSON array b, as raw spans. ok is
// false when b is not an array or is cut short; the elements found before
// the damage are still returned.
func splitArray(b []byte) (elems [][]byte, ok bool) {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, jsonscan.SkipSpace(b, i+1) == len(b)
	}
	for i < len(b) {
		n := jsonscan.SkipValue(b[i:])
		if n <= 0 {
			return elems, false
		}
		elems = append(elems, b[i:i+n])
		i = jsonscan.SkipSpace(b, i+n)
		switch {
		case i < len(b) && b[i] == ',':
			i = jsonscan.SkipSpace(b, i+1)
		case i < len(b) && b[i] == ']':
			return elems, jsonscan.SkipSpace(b, i+1) == len(b)
		default:
			return elems, false
		}
	}
	return elems, false
}

// salvage reads what it can of an envelope the decoder refused: its id
// and its method, so the call it belongs to can be failed. Fields that
// cannot be read stay zero.
func salvage(elem []byte) envelope {
	var e envelope
	i := jsonscan.SkipSpace(elem, 0)
	if i >= len(elem) || elem[i] != '{' {
		return e
	}
	i++
	for {
		i = jsonscan.SkipSpace(elem, i)
		if i >= len(elem) || elem[i] != '"' {
			return e
		}
		end := jsonscan.SkipString(elem, i)
		if end < 0 {
			return e
		}
		var name string
		if json.Unmarshal(elem[i:end], &name) != nil {
			return e
		}
		i = jsonscan.SkipSpace(elem, end)
		if i >= len(elem) || elem[i] != ':' {
			return e
		}
		i = jsonscan.SkipSpace(elem, i+1)
		n := jsonscan.SkipValue(elem[i:])
		if n <= 0 {
			return e
		}
		val := elem[i : i+n]
		switch name {
		case "i":
			if id, err := strconv.ParseUint(strings.TrimSpace(string(val)), 10, 64); err == nil {
				e.I = id
			}
		case "m":
			_ = json.Unmarshal(val, &e.M)
		}
		i = jsonscan.SkipSpace(elem, i+n)
		if i >= len(elem) || elem[i] != ',' {
			return e
		}
		i++
	}
}
