package checker

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
)

// Outcome of one send attempt as the client saw it.
type Outcome int

const (
	Acked   Outcome = iota + 1 // the cluster returned a seq
	Failed                     // a definite error: nothing was stored
	Unknown                    // timeout or lost connection: it may or may not be stored
)

// Recorder collects the history of a run. It is safe for concurrent use.
type Recorder struct {
	mu        sync.Mutex
	attempts  int
	sends     map[sendKey]*send // by (to, from, id)
	delivered map[string][]uint64
	reorders  int
	conflicts int
	watched   map[string]*liveConn // see Watch
}

type sendKey struct{ to, from, id string }

type send struct {
	outcome Outcome
	seq     uint64    // when acked
	ackedAt time.Time // when acked
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{sends: map[sendKey]*send{}, delivered: map[string][]uint64{}}
}

// Attempt records one try of the send (to, from, id); retries of the same id
// are the same logical send. Acked wins over Unknown, Unknown over Failed.
func (r *Recorder) Attempt(to, from, id string, out Outcome, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	k := sendKey{to, from, id}
	s := r.sends[k]
	if s == nil {
		s = &send{}
		r.sends[k] = s
	}
	if out == Acked {
		if s.outcome == Acked && s.seq != seq {
			r.conflicts++ // two different seqs acknowledged for one id
		}
		if s.outcome != Acked {
			s.ackedAt = time.Now()
		}
		s.outcome, s.seq = Acked, seq
		return
	}
	if s.outcome != Acked && out > s.outcome {
		s.outcome = out
	}
}

// Delivered records a live delivery to a connection of key, in the order
// the connection received it.
func (r *Recorder) Delivered(key string, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.delivered[key]
	if n := len(d); n > 0 && seq <= d[n-1] {
		r.reorders++
	}
	r.delivered[key] = append(d, seq)
	r.deliveredLocked(key, seq, time.Now())
}

// Report is the verdict of a run. Every field after Unknown is a safety
// figure that must be 0.
type Report struct {
	Attempts     int      `json:"attempts"`
	Sends        int      `json:"sends"`
	Acked        int      `json:"acked"`
	Failed       int      `json:"failed"`
	Unknown      int      `json:"unknown"`
	Lost         int      `json:"lost_acked"`
	Duplicates   int      `json:"duplicates_stored"`
	SeqConflicts int      `json:"seq_conflicts"`
	Gaps         int      `json:"gaps"`
	Reordered    int      `json:"reordered_deliveries"`
	Unexplained  int      `json:"unexplained_messages"`
	Details      []string `json:"details,omitempty"`
}

// OK is true when every safety figure is zero.
func (r Report) OK() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.SeqConflicts == 0 && r.Gaps == 0 && r.Reordered == 0 && r.Unexplained == 0
}

func (r Report) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Check compares the recorded history with the final inboxes (key → every
// stored message, oldest first, as read after the run).
func (r *Recorder) Check(inboxes map[string][]shardgate.Message) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{Attempts: r.attempts, Sends: len(r.sends), SeqConflicts: r.conflicts, Reordered: r.reorders}
	detail := func(format string, args ...any) {
		if len(rep.Details) < 20 {
			rep.Details = append(rep.Details, fmt.Sprintf(format, args...))
		}
	}
	stored := map[sendKey][]uint64{}
	for key, msgs := range inboxes {
		for i, m := range msgs {
			if want := uint64(i + 1); m.Seq != want && (i == 0 || m.Seq != msgs[i-1].Seq+1) {
				rep.Gaps++
				detail("%s: seq %d follows %d", key, m.Seq, prevSeq(msgs, i))
			}
			if m.ID == "" {
				continue
			}
			k := sendKey{key, m.From, m.ID}
			stored[k] = append(stored[k], m.Seq)
			if _, ok := r.sends[k]; !ok {
				rep.Unexplained++
				detail("%s: seq %d (from %s, id %s) was never sent", key, m.Seq, m.From, m.ID)
			}
		}
	}
	for k, s := range r.sends {
		switch s.outcome {
		case Acked:
			rep.Acked++
			seqs := stored[k]
			if !containsSeq(seqs, s.seq) {
				rep.Lost++
				detail("%s: acked seq %d (from %s, id %s) is not in the inbox (found %v)", k.to, s.seq, k.from, k.id, seqs)
			}
		case Failed:
			rep.Failed++
		default:
			rep.Unknown++
		}
		if len(stored[k]) > 1 {
			rep.Duplicates++
			detail("%s: id %s from %s stored at seqs %v", k.to, k.id, k.from, stored[k])
		}
	}
	return rep
}

func prevSeq(msgs []shardgate.Message, i int) uint64 {
	if i == 0 {
		return 0
	}
	return msgs[i-1].Seq
}

func containsSeq(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Keys returns the recipients the workload sent to, sorted.
func (r *Recorder) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := map[string]bool{}
	for k := range r.sends {
		set[k.to] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Table renders the report as an aligned text table.
func (r Report) Table() string {
	var b strings.Builder
	row := func(name string, v int, safety bool) {
		mark := ""
		if safety {
			mark = "ok"
			if v != 0 {
				mark = "FAIL"
			}
		}
		fmt.Fprintf(&b, "  %-24s %10d  %s\n", name, v, mark)
	}
	row("attempts", r.Attempts, false)
	row("sends (distinct ids)", r.Sends, false)
	row("acknowledged", r.Acked, false)
	row("failed (definite)", r.Failed, false)
	row("unknown (timeout)", r.Unknown, false)
	row("lost acknowledged", r.Lost, true)
	row("duplicates stored", r.Duplicates, true)
	row("seq conflicts", r.SeqConflicts, true)
	row("gaps", r.Gaps, true)
	row("reordered deliveries", r.Reordered, true)
	row("unexplained messages", r.Unexplained, true)
	for _, d := range r.Details {
		fmt.Fprintf(&b, "    - %s\n", d)
	}
	return b.String()
}
