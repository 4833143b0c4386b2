package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardgate/shardgate"
)

// KeyFinding explains a failing key for a bug report: which acknowledged
// seqs are gone, when they were acknowledged, through which node, during
// which fault, and who holds the key's shard now.
type KeyFinding struct {
	Key       string    `json:"key"`
	Shard     int       `json:"shard"`
	Owner     string    `json:"owner_now"`
	Backups   []string  `json:"backups_now"`
	InboxLast uint64    `json:"inbox_last_seq"`
	Lost      int       `json:"lost_acked"`
	LostSeqs  string    `json:"lost_seqs,omitempty"`
	FirstAck  time.Time `json:"first_lost_ack,omitzero"`
	LastAck   time.Time `json:"last_lost_ack,omitzero"`
	Via       []string  `json:"acked_via,omitempty"`
	During    []string  `json:"during,omitempty"`
	Missed    int       `json:"missed_deliveries"`
	MissedAt  string    `json:"missed_seqs,omitempty"`
	Delivered uint64    `json:"highest_delivered"`
	Receiver  string    `json:"receiver_conns,omitempty"` // its last connections, newest last
	// FirstMissed is the first missed message as stored: when its home
	// stored it and who sent it.
	FirstMissed *shardgate.Message `json:"first_missed,omitempty"`
}

// explain finds the keys with lost acknowledged messages or missed
// deliveries.
func (s *Suite) explain(ctx context.Context, inboxes map[string][]shardgate.Message, last map[string]uint64) []KeyFinding {
	stored := map[sendID][]uint64{}
	for key, msgs := range inboxes {
		for _, m := range msgs {
			k := sendID{key, m.From, m.ID}
			stored[k] = append(stored[k], m.Seq)
		}
	}
	byKey := map[string]*KeyFinding{}
	get := func(key string) *KeyFinding {
		f := byKey[key]
		if f == nil {
			f = &KeyFinding{Key: key, InboxLast: last[key]}
			byKey[key] = f
		}
		return f
	}
	lostSeqs := map[string][]uint64{}
	s.wl.ackMu.Lock()
	for k, a := range s.wl.acks {
		if slices.Contains(stored[k], a.seq) {
			continue
		}
		f := get(k.to)
		f.Lost++
		lostSeqs[k.to] = append(lostSeqs[k.to], a.seq)
		if f.FirstAck.IsZero() || a.at.Before(f.FirstAck) {
			f.FirstAck = a.at
		}
		if a.at.After(f.LastAck) {
			f.LastAck = a.at
		}
		if !slices.Contains(f.Via, a.via) {
			f.Via = append(f.Via, a.via)
		}
		if d := s.faultAt(a.at); !slices.Contains(f.During, d) {
			f.During = append(f.During, d)
		}
	}
	s.wl.ackMu.Unlock()
	for _, r := range s.wl.recvs {
		if m := r.missing(last[r.key]); len(m) > 0 {
			f := get(r.key)
			f.Missed, f.MissedAt, f.Delivered, f.Receiver = len(m), ranges(m), r.resumeAt(), r.nodeName()
			for _, msg := range inboxes[r.key] {
				if msg.Seq == m[0] {
					f.FirstMissed = &msg
					break
				}
			}
		}
	}
	var out []KeyFinding
	for key, f := range byKey {
		f.LostSeqs = ranges(lostSeqs[key])
		slices.Sort(f.Via)
		s.locate(ctx, f)
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lost+out[i].Missed > out[j].Lost+out[j].Missed })
	return out
}

// faultAt names the fault whose window holds t, or the last one before t.
func (s *Suite) faultAt(t time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := "before any fault"
	for _, f := range s.faults {
		end := f.ConvergedAt
		if end.IsZero() {
			end = f.EndedAt
		}
		if !t.Before(f.InjectedAt) && (end.IsZero() || !t.After(end)) {
			return f.Kind
		}
		if t.After(f.InjectedAt) {
			before = "after " + f.Kind
		}
	}
	return before
}

// locate asks any member where the key lives now.
func (s *Suite) locate(ctx context.Context, f *KeyFinding) {
	for _, m := range s.Members() {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		r, err := s.admin.Route(rctx, s.tier.AdminURL(m), f.Key)
		cancel()
		if err == nil {
			f.Shard, f.Owner, f.Backups = r.Shard, r.Owner, r.Backups
			return
		}
	}
	f.Shard = -1
}

// ranges renders seqs compactly: 3-7,9,12-14.
func ranges(seqs []uint64) string {
	slices.Sort(seqs)
	var parts []string
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(seqs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// printFindings writes at most 15 keys as a table.
func printFindings(w io.Writer, fs []KeyFinding) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nkeys with lost acknowledged messages or missed deliveries (%d):\n", len(fs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "key\tshard\towner/backups now\tinbox last\tlost\tlost seqs\tacked (UTC)\tvia\tduring\tmissed\tmissed seqs\treceiver on")
	for i, f := range fs {
		if i == 15 {
			fmt.Fprintf(tw, "…\t%d more in the JSON\n", len(fs)-i)
			break
		}
		acked := "-"
		if !f.FirstAck.IsZero() {
			acked = f.FirstAck.UTC().Format("15:04:05.000") + "–" + f.LastAck.UTC().Format("15:04:05.000")
		}
		seqs := f.LostSeqs
		if len(seqs) > 40 {
			seqs = seqs[:40] + "…"
		}
		missed := f.MissedAt
		if len(missed) > 30 {
			missed = missed[:30] + "…"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s/%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.Key, f.Shard, f.Owner, strings.Join(f.Backups, ","),
			f.InboxLast, f.Lost, seqs, acked, strings.Join(f.Via, ","), strings.Join(f.During, ","), f.Missed, missed, f.Receiver)
	}
	tw.Flush()
}
