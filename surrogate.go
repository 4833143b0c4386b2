package shardgate

import (
	"bytes"
	"encoding/json"
	"slices"
)

// HasLoneSurrogate reports whether the JSON text b holds a \u escape of
// half a UTF-16 surrogate pair (\ud800 alone, or \udc00 with no high half
// before it). JSON's grammar allows such escapes, but a Go string cannot
// hold them: encoding/json turns each into U+FFFD, so "x\ud800" and
// "x\udc00" would decode to one key. A message's data keeps them as sent
// (it is never decoded), so only names need the check. It allocates nothing.
func HasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		// Most frames hold no escape at all: jump to the next one.
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return false
		}
		i += j
		if i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, \\ included: skip it
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 11
					continue
				}
			}
			return true
		case r >= 0xDC00 && r < 0xE000:
			return true
		}
		i += 5
	}
	return false
}

// hex4 reads the four hex digits at b[at:].
func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// LoneSurrogateMember names the first member (in name order) of the JSON
// object obj, other than those in keep, whose value holds a lone surrogate
// escape (HasLoneSurrogate), or "" when none does or obj is no object.
func LoneSurrogateMember(obj []byte, keep ...string) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(obj, &members) != nil {
		return ""
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(keep, name) && HasLoneSurrogate(members[name]) {
			return name
		}
	}
	return ""
}
