package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/shardgate/shardgate"
)

// The disk-full fault fills the small filesystem holding one node's data
// directory while the load runs, holds it full, then frees it. The node
// must refuse writes it cannot store with a definite error that says why
// (never hang, never acknowledge what it did not store), keep serving
// reads, lose nothing it acknowledged before, and take writes again once
// the space is back.

// Disk-full bounds.
const (
	diskFullHold = 8 * time.Second
	// diskFullResumeBound is how soon after the space returns every key
	// must take writes again.
	diskFullResumeBound = 10 * time.Second
)

// clearDiskError is what a refusal must say: the node's storage is full.
var clearDiskError = regexp.MustCompile(`(?i)(disk|storage|space)[^.;]*full|full[^.;]*(disk|storage)|no space`)

// DiskFullFigures is the disk-full fault's scorecard entry.
type DiskFullFigures struct {
	Node        string          `json:"node"`
	FilledBytes int64           `json:"filled_bytes"`
	HomeKeys    int             `json:"keys_homed_there"`
	Writes      int             `json:"writes"`
	Acked       int             `json:"acked"`
	Refused     int             `json:"refused"`
	Clear       int             `json:"refused_saying_storage_full"`
	Internal    int             `json:"internal_errors"`
	NoAnswer    int             `json:"no_answer"`
	Example     string          `json:"example_refusal,omitempty"`
	Reads       int             `json:"reads"`
	ReadsOK     int             `json:"reads_ok"`
	RecoveredMS *int64          `json:"writes_again_after_free_ms"`
	Checks      []OverloadCheck `json:"checks"`
}

func (d *DiskFullFigures) String() string {
	return fmt.Sprintf("%s full (%d MiB of filler): writes to its %d keys through it: %d (acked %d, refused %d: %d saying storage is full, %d internal errors; no answer %d); reads %d/%d ok; writes to every key again %s after the space returned; e.g. %q",
		d.Node, d.FilledBytes>>20, d.HomeKeys, d.Writes, d.Acked, d.Refused, d.Clear, d.Internal, d.NoAnswer, d.ReadsOK, d.Reads, fmtMS(d.RecoveredMS), d.Example)
}

func (s *Suite) diskFull(ctx context.Context) {
	node := s.tier.SmallFSNode()
	rec := s.record(faultDiskFull, node, fmt.Sprintf("the %s filesystem of %s's data dir filled for %s, then freed", smallFSSize, node, diskFullHold))
	defer func() { rec.EndedAt = time.Now() }()
	d := &DiskFullFigures{Node: node}
	rec.DiskFull = d
	keys := s.keysHomedOn(ctx, node)
	d.HomeKeys = len(keys)
	if len(keys) == 0 {
		rec.fail("no user key is homed on %s: nothing to probe", node)
		return
	}
	rec.InjectedAt = time.Now()
	n, err := s.tier.FillDisk(ctx)
	d.FilledBytes = n
	if err != nil {
		rec.fail("fill: %v", err)
		s.tier.FreeDisk(ctx)
		return
	}
	rec.Fired = true
	s.log.Info("fault: disk full", "node", node, "filled_mib", n>>20)
	until := time.Now().Add(diskFullHold)
	for i := 0; time.Now().Before(until) && ctx.Err() == nil; i++ {
		key := keys[i%len(keys)]
		at := time.Now()
		_, err := s.probeOnce(ctx, node, key, fmt.Sprintf("diskfull-%d", probeSeq.Add(1)), 5*time.Second)
		d.Writes++
		var ae *apiError
		switch {
		case err == nil:
			d.Acked++
		case errors.As(err, &ae):
			d.Refused++
			// Clear: the storage_full kind, or a retryable refusal (1003)
			// that says the storage is full. An internal error quoting
			// ENOSPC and a file path is not a refusal a client can act on.
			clear := ae.Code == "storage_full" || ae.RPC() == shardgate.CodeUnavailable && clearDiskError.MatchString(ae.Message)
			if clear {
				d.Clear++
			}
			if ae.Code == "internal" {
				d.Internal++
			}
			// Keep the first refusal, or the first clear one.
			if d.Example == "" || clear && !clearDiskError.MatchString(d.Example) {
				d.Example = ae.Code + ": " + ae.Message
			}
		default:
			d.NoAnswer++
		}
		d.Reads++
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if _, err := s.admin.Inbox(rctx, s.tier.AdminURL(node), key); err == nil {
			d.ReadsOK++
		}
		cancel()
		sleepCtx(ctx, time.Until(at.Add(250*time.Millisecond)))
	}
	if err := s.tier.FreeDisk(ctx); err != nil {
		rec.fail("free: %v", err)
	}
	rec.HealedAt = time.Now()
	at, pending := s.resumeProbe(ctx, time.Now().Add(diskFullResumeBound+5*time.Second))
	if len(pending) == 0 {
		d.RecoveredMS = since(rec.HealedAt, at)
	}
	s.log.Info("fault: disk full figures", "figures", d.String())
	s.judgeCheck(rec, &d.Checks, false, d.Clear > 0 && d.Internal == 0,
		"%d of %d refusals by %s said its storage is full as a retryable refusal (storage_full or 1003), %d were internal errors (want some and none)", d.Clear, d.Refused, node, d.Internal)
	s.judgeCheck(rec, &d.Checks, false, d.NoAnswer == 0,
		"%d writes through %s got no answer within 5 s while its disk was full (want 0: refuse, do not hang)", d.NoAnswer, node)
	s.judgeCheck(rec, &d.Checks, false, d.ReadsOK == d.Reads,
		"%d of %d reads through %s answered while its disk was full (want all)", d.ReadsOK, d.Reads, node)
	recovered := d.RecoveredMS != nil && *d.RecoveredMS <= diskFullResumeBound.Milliseconds()
	s.judgeCheck(rec, &d.Checks, false, recovered,
		"writes to every key acknowledged again %s after the space returned (bound %s; %d keys never)", fmtMS(d.RecoveredMS), diskFullResumeBound, len(pending))
	s.converge(ctx, rec)
}

// keysHomedOn lists the user keys whose shard's home is node.
func (s *Suite) keysHomedOn(ctx context.Context, node string) []string {
	var out []string
	for _, key := range s.wl.users {
		for _, m := range s.Members() {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			r, err := s.admin.Route(rctx, s.tier.AdminURL(m), key)
			cancel()
			if err == nil {
				if r.Owner == node {
					out = append(out, key)
				}
				break
			}
		}
	}
	return out
}
