package conn

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/shardgate/shardgate/internal/jsonscan"
)

// paramNames caches, per params struct type, the member names its json
// tags accept.
var paramNames sync.Map // reflect.Type → [][]byte

func namesOf(dst any) [][]byte {
	t := reflect.TypeOf(dst).Elem()
	if v, ok := paramNames.Load(t); ok {
		return v.([][]byte)
	}
	var names [][]byte
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, []byte(name))
	}
	paramNames.Store(t, names)
	return names
}

// unknownMember returns the first top-level member of the JSON object obj
// that matches none of known (case-insensitively, as encoding/json matches
// a member to a field). obj must be valid JSON, as a decoded frame's
// params are; anything else is reported as having no unknown member.
//
// It walks the bytes once without allocating, so the check costs a send
// little: a misspelt member ("idempotency_id" for "id") must be refused,
// not ignored, or a retry stores the message twice.
func unknownMember(obj []byte, known [][]byte) (string, bool) {
	i := jsonscan.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return "", false
	}
	i++
	for {
		i = jsonscan.SkipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return "", false // '}' or not an object member
		}
		end := jsonscan.SkipString(obj, i)
		if end < 0 {
			return "", false
		}
		if name, ok := memberName(obj[i:end]); ok && !matchesAny(name, known) {
			return string(name), true
		}
		i = jsonscan.SkipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return "", false
		}
		i = jsonscan.SkipSpace(obj, i+1)
		n := jsonscan.SkipValue(obj[i:])
		if n < 0 {
			return "", false
		}
		i = jsonscan.SkipSpace(obj, i+n)
		if i >= len(obj) || obj[i] != ',' {
			return "", false
		}
		i++
	}
}

// memberName unquotes a member name; one with escapes is decoded by
// encoding/json (rare, and allocating is fine there).
func memberName(quoted []byte) ([]byte, bool) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return quoted[1 : len(quoted)-1], true
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

func matchesAny(name []byte, known [][]byte) bool {
	for _, k := range known {
		if bytes.EqualFold(name, k) {
			return true
		}
	}
	return false
}
