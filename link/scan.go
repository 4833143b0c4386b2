package link

import (
	"encoding/json"
	"strconv"
	"strings"
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
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, skipSpace(b, i+1) == len(b)
	}
	for i < len(b) {
		n := skipValue(b[i:])
		if n <= 0 {
			return elems, false
		}
		elems = append(elems, b[i:i+n])
		i = skipSpace(b, i+n)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == ']':
			return elems, skipSpace(b, i+1) == len(b)
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
	i := skipSpace(elem, 0)
	if i >= len(elem) || elem[i] != '{' {
		return e
	}
	i++
	for {
		i = skipSpace(elem, i)
		if i >= len(elem) || elem[i] != '"' {
			return e
		}
		end := skipString(elem, i)
		if end < 0 {
			return e
		}
		var name string
		if json.Unmarshal(elem[i:end], &name) != nil {
			return e
		}
		i = skipSpace(elem, end)
		if i >= len(elem) || elem[i] != ':' {
			return e
		}
		i = skipSpace(elem, i+1)
		n := skipValue(elem[i:])
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
		i = skipSpace(elem, i+n)
		if i >= len(elem) || elem[i] != ',' {
			return e
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i]
// (a '"'), or -1 if it does not end.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the length of the value at the start of b (which must
// not start with whitespace), or -1 if b ends inside it. Scalars run to the
// next delimiter; nothing is validated.
func skipValue(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	switch b[0] {
	case '"':
		return skipString(b, 0)
	case '[', '{':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := skipString(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '[', '{':
				depth++
			case ']', '}':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for i, c := range b {
		switch c {
		case ',', ']', '}', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return len(b)
}
