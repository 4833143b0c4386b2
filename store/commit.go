package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// request is one Apply call waiting for the committer.
type request struct {
	ops  []Op
	done chan error // buffered: the committer never blocks on a caller
}

// Apply commits all ops of one call atomically and returns once the commit
// is durable (unless NoSync). Concurrent calls share one transaction and one
// fsync. If ctx ends first Apply returns its error, but the write may still
// land. Invalid ops fail the call before anything is queued. The ops' Data
// bytes must not be changed until Apply has returned.
func (s *Store) Apply(ctx context.Context, ops []Op) error {
	n := len(ops)
	if n == 0 {
		return nil
	}
	for i := range ops {
		if err := validateOp(&ops[i]); err != nil {
			return fmt.Errorf("store: apply %d ops: op %d: %w", n, i, err)
		}
	}
	if s.closed.Load() {
		return fmt.Errorf("store: apply %d ops: %w", n, ErrClosed)
	}
	// The committer may still read the slice after a cancelled caller has
	// returned and reused it, so it gets its own copy.
	r := &request{ops: append([]Op(nil), ops...), done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.exited:
		return fmt.Errorf("store: apply %d ops: %w", n, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("store: apply %d ops: %w", n, ctx.Err())
	}
	var err error
	select {
	case err = <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("store: apply %d ops: waiting for commit: %w", n, ctx.Err())
	case <-s.exited:
		// The committer answers before it exits, so an answer, if any, is
		// already there.
		select {
		case err = <-r.done:
		default:
			err = ErrClosed
		}
	}
	if err != nil {
		return fmt.Errorf("store: apply %d ops: %w", n, err)
	}
	return nil
}

// runCommitter is the only goroutine that writes ops. It takes whatever is
// queued, up to MaxBatchOps ops, applies it to the batch, logs and syncs it
// as one record, answers every caller and repeats. It never waits for more
// work to arrive: under load the queue fills while a record is syncing,
// which is what groups calls. While the batch holds writes it also
// materialises it every MaterializeInterval.
func (s *Store) runCommitter() {
	defer close(s.exited)
	tick := time.NewTimer(s.cfg.MaterializeInterval)
	defer tick.Stop()
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-s.reqs:
			case <-tick.C:
				s.materializeIfDue()
				tick.Reset(s.cfg.MaterializeInterval)
				continue
			case <-s.stop:
				// Commit what is already queued, then go.
				select {
				case first = <-s.reqs:
				default:
					return
				}
			}
		}
		if s.hookTook != nil {
			s.hookTook()
		}
		// The request that woke the committer is seldom the only one on
		// its way: the goroutines that will send the others are often
		// runnable already, and the scheduler runs the woken committer
		// before them. Yielding once lets them queue into this commit
		// instead of waiting for the next one and its own log sync; it
		// costs nothing when nothing else is runnable. In a loaded node
		// this took a commit from 11 ops to 29 and cut the CPU per send
		// by a fifth (docs/PERFORMANCE.md).
		runtime.Gosched()
		var batch []*request
		batch, carry = s.gather(first)
		s.commit(batch)
	}
}

// materializeIfDue materialises a batch that has been open for a full
// interval or holds enough ops; a failure is logged here and reported to
// the next writers (the groups in the batch are durable in the log).
func (s *Store) materializeIfDue() {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if !s.dueLocked() {
		return
	}
	if err := s.materializeLocked(); err != nil {
		s.log.Error("store: materialise the batch", "err", err)
	}
}

// gather adds queued requests to first until MaxBatchOps would be exceeded;
// the request that did not fit is returned to start the next batch. A single
// request larger than MaxBatchOps is committed alone: calls are never split.
func (s *Store) gather(first *request) (batch []*request, carry *request) {
	batch = []*request{first}
	ops := len(first.ops)
	for ops < s.cfg.MaxBatchOps {
		select {
		case r := <-s.reqs:
			if ops+len(r.ops) > s.cfg.MaxBatchOps {
				return batch, r
			}
			batch = append(batch, r)
			ops += len(r.ops)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// opError says which request of a batch could not be applied, so the others
// can be committed without it.
type opError struct {
	req int
	err error
}

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// commit writes batch and answers every request in it.
func (s *Store) commit(batch []*request) {
	for len(batch) > 0 {
		start := time.Now()
		ops, err := s.commitOnce(batch)
		var oe *opError
		if errors.As(err, &oe) && len(batch) > 1 {
			// Nothing was written; retry the others without the bad one.
			batch[oe.req].done <- oe.err
			batch = append(batch[:oe.req:oe.req], batch[oe.req+1:]...)
			continue
		}
		switch {
		case err != nil:
			s.log.Error("store: commit failed", "calls", len(batch), "err", err)
		case s.cfg.OnCommit != nil:
			s.cfg.OnCommit(time.Since(start), ops)
		}
		for _, r := range batch {
			r.done <- err
		}
		// Only now, with its callers answered: they need not wait for
		// the file.
		s.materializeIfDue()
		return
	}
}

// commitOnce applies batch to the open batch transaction, appends its ops
// to the log as one record and syncs it, and then publishes the new shard
// statistics. A failure leaves the batch as it was before.
func (s *Store) commitOnce(batch []*request) (ops int, err error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if err := s.writableLocked(); err != nil {
		return 0, err
	}
	if err := s.beginLocked(); err != nil {
		return 0, err
	}
	w := newTxWriter(s.btx, s.cfg.MaxMessages)
	size := 0
	for i, r := range batch {
		for j := range r.ops {
			if err := w.apply(&r.ops[j]); err != nil {
				return 0, errors.Join(&opError{req: i, err: fmt.Errorf("op %d (%s, shard %d): %w", j, r.ops[j].Kind, r.ops[j].Shard, err)}, s.rebuildLocked())
			}
			size += opBytes(&r.ops[j])
		}
		ops += len(r.ops)
	}
	if err := w.flush(); err != nil {
		return 0, errors.Join(err, s.rebuildLocked())
	}
	rec := make([]byte, 0, size+8)
	rec = append(rec, walFormat)
	rec = binary.AppendUvarint(rec, uint64(ops))
	for _, r := range batch {
		for j := range r.ops {
			rec = appendOp(rec, &r.ops[j])
		}
	}
	if s.hookCrash != nil {
		s.hookCrash("log")
	}
	index, err := s.wal.Append(rec)
	if err != nil {
		return 0, errors.Join(err, s.rebuildLocked())
	}
	if s.hookCrash != nil {
		s.hookCrash("logged")
	}
	s.applied = index
	s.pending = append(s.pending, rec)
	s.pendingOps += ops
	s.pendingBytes += len(rec)
	s.statsMu.Lock()
	for id, st := range w.stats() {
		s.setStatsLocked(id, st)
	}
	s.statsMu.Unlock()
	return ops, nil
}
