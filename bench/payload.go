package bench

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// payload is what every message carries so that its delivery can be
// matched and timed: the send's idempotency id (run id and number), the
// time the send was due, and whether it belongs to the warm-up.
type payload struct {
	ID   string `json:"id"`
	Due  int64  `json:"t"` // Unix nanoseconds
	Warm bool   `json:"w,omitempty"`
}

// makePayload encodes p, padded with a "pad" string so the data is size
// bytes long (or as short as the fields allow). The id holds only hex
// digits and dashes, so nothing needs escaping.
func makePayload(id string, due time.Time, warm bool, size int) json.RawMessage {
	b := make([]byte, 0, max(size, 64))
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","t":`...)
	b = strconv.AppendInt(b, due.UnixNano(), 10)
	if warm {
		b = append(b, `,"w":true`...)
	}
	const padOpen, padClose = `,"pad":"`, `"}`
	if fill := size - len(b) - len(padOpen) - len(padClose); fill > 0 {
		b = append(b, padOpen...)
		b = append(b, strings.Repeat("x", fill)...)
		b = append(b, padClose...)
	} else {
		b = append(b, '}')
	}
	return b
}

// parsePayload reads a delivered message's data; ok is false for data
// that no send of this run made.
func parsePayload(data json.RawMessage, runID string) (payload, bool) {
	var p payload
	if json.Unmarshal(data, &p) != nil {
		return p, false
	}
	rest, ok := strings.CutPrefix(p.ID, runID+"-")
	return p, ok && rest != ""
}

// errorLog counts events by kind (failed send attempts, broken
// connections) and keeps the first message of each kind, which usually
// says what went wrong.
type errorLog struct {
	mu    sync.Mutex
	kinds map[string]*ErrorCount
}

// ErrorCount is how often one kind of error happened, with an example.
type ErrorCount struct {
	Kind  string `json:"kind"`
	Count int64  `json:"count"`
	First string `json:"first"`
}

func (l *errorLog) note(err error) { l.add(errKind(err), err.Error()) }

// add counts one event of kind; first describes it if it is the first.
func (l *errorLog) add(kind, first string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[string]*ErrorCount{}
	}
	e := l.kinds[kind]
	if e == nil {
		e = &ErrorCount{Kind: kind, First: first}
		l.kinds[kind] = e
	}
	e.Count++
}

// list returns the kinds, most frequent first.
func (l *errorLog) list() []ErrorCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ErrorCount, 0, len(l.kinds))
	for _, e := range l.kinds {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}
