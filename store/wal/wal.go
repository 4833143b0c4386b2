package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultSegmentBytes is the size past which Append starts a new segment.
const DefaultSegmentBytes = 64 << 20

const segmentExt = ".wal"

// reserveBytes is how far past the end of the records the active segment's
// space is reserved at a time, and reserveRoom the free space the file
// system must have for it (see reserve). The reserve is small: when the
// disk fills, the records already reserved for are still accepted, and a
// node should start refusing writes within moments of its disk filling,
// not after another megabyte. 64 KiB is some two hundred sends, so the
// file's size still changes on one sync in a hundred or so.
const (
	reserveBytes = 64 << 10
	reserveRoom  = 64 << 20
)

// Options of a Log.
type Options struct {
	// Dir holds the segment files; created if missing. Nothing else may
	// write there.
	Dir string
	// SegmentBytes: once the active segment is this large (bytes), the next
	// Append starts a new one, so released records can be deleted a
	// segment at a time. 0 = DefaultSegmentBytes.
	SegmentBytes int64
	// NoSync skips fdatasync. Tests only: a crash of the machine (not just
	// of the process) loses appended records.
	NoSync bool
	// BeforeWrite, if set, runs before each record is written; a non-nil
	// error is handled as the write's own failure. Tests only: it is how
	// they fill a disk that is not full.
	BeforeWrite func(index uint64) error
}

// Log is an open write-ahead log. Its methods are safe for concurrent use,
// and Append calls are written one at a time in index order.
type Log struct {
	opts Options

	mu   sync.Mutex
	segs []segment // in index order; the last one is active
	f    *os.File  // the active segment, opened for writing
	size int64     // bytes of the active segment's records
	end  int64     // bytes of the active segment's file: records, then reserved zeros
	next uint64    // index of the next record
	buf  []byte
	err  error // set when a failed Append could not be undone
}

type segment struct {
	first uint64 // index of its first record (or of the first it would hold)
	path  string
}

func segmentName(first uint64) string { return fmt.Sprintf("%016x%s", first, segmentExt) }

// Open opens the log in opts.Dir and calls replay, in order, for every
// record with an index above after; the payload is valid only during the
// call. A torn record at the very end is cut off (see the package doc). The
// first record Append writes gets the index after the last one in the log,
// and never one at or below after.
func Open(opts Options, after uint64, replay func(index uint64, payload []byte) error) (*Log, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: create directory: %w", err)
	}
	segs, err := listSegments(opts.Dir)
	if err != nil {
		return nil, err
	}
	l := &Log{opts: opts, segs: segs, next: after + 1}
	want := after + 1 // the next record replay must see
	var last uint64   // the last index read
	var activeLast uint64
	for i, sg := range segs {
		isLast := i == len(segs)-1
		end, n, err := scanSegment(sg, isLast, func(index uint64, payload []byte) error {
			if index <= last && last > 0 {
				return fmt.Errorf("record %d follows record %d: %w", index, last, ErrCorrupt)
			}
			last = index
			if isLast {
				activeLast = index
			}
			if index <= after {
				return nil
			}
			if index != want {
				return fmt.Errorf("record %d found where %d was expected: records the store has not applied are missing: %w", index, want, ErrCorrupt)
			}
			want++
			return replay(index, payload)
		})
		if err != nil {
			return nil, fmt.Errorf("wal: open %s: %w", sg.path, err)
		}
		if isLast {
			l.size, l.end = end, end
			if end < n {
				if err := truncate(sg.path, end, opts.NoSync); err != nil {
					return nil, fmt.Errorf("wal: cut the torn tail off %s at byte %d: %w", sg.path, end, err)
				}
			}
		}
	}
	l.next = max(last, after) + 1
	continues := len(segs) > 0 &&
		(activeLast != 0 && activeLast+1 == l.next || activeLast == 0 && segs[len(segs)-1].first == l.next)
	if !continues {
		// No segment, or the active one would not continue with l.next
		// (the store's file is ahead of the log): start one named by it.
		if err := l.startSegment(); err != nil {
			return nil, err
		}
		return l, nil
	}
	f, err := os.OpenFile(segs[len(segs)-1].path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("wal: open active segment: %w", err)
	}
	l.f = f
	return l, nil
}

// ErrCorrupt says the log holds damage that is not a torn write: records
// it acknowledged cannot be read back.
var ErrCorrupt = errors.New("wal: corrupt log")

// listSegments finds the segment files of dir in index order.
func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var segs []segment
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segmentExt) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("wal: %s in %s is not named by an index: %w", name, dir, ErrCorrupt)
		}
		segs = append(segs, segment{first: first, path: filepath.Join(dir, name)})
	}
	slices.SortFunc(segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// scanSegment calls fn for each record of the segment and returns the
// offset after the last good record and the file's size. Zeros to the end
// of a segment are space reserved for records never written; other damage
// is a torn tail in the last segment and an error anywhere else.
func scanSegment(sg segment, isLast bool, fn func(index uint64, payload []byte) error) (end, size int64, err error) {
	data, err := os.ReadFile(sg.path)
	if err != nil {
		return 0, 0, err
	}
	off := 0
	last := max(sg.first, 1) - 1 // the index of the last good record read
	for off < len(data) {
		index, payload, n, err := DecodeRecord(data[off:])
		if err != nil {
			if allZero(data[off:]) {
				return int64(off), int64(len(data)), nil
			}
			if !isLast {
				return 0, 0, fmt.Errorf("at byte %d of a segment that is not the last: %w", off, errors.Join(err, ErrCorrupt))
			}
			// Append writes one record and syncs it before it writes the
			// next, so a torn write is the last thing in the log. An intact
			// record after the damage proves the damaged one was synced:
			// acknowledged, and now unreadable. Cutting the log there, as
			// for a torn tail, would drop it and everything after it.
			if at, later, ok := laterRecord(data, off+1, last); ok {
				return 0, 0, fmt.Errorf("at byte %d of the last segment (%v), yet record %d at byte %d after it is intact: this is not a torn write but damage to records that were acknowledged: %w",
					off, err, later, at, ErrCorrupt)
			}
			return int64(off), int64(len(data)), nil
		}
		if err := fn(index, payload); err != nil {
			return 0, 0, err
		}
		last = index
		off += n
	}
	return int64(off), int64(len(data)), nil
}

// laterRecord looks for an intact record at or after byte from of data
// whose index is above last. The index is checked before the checksum, so
// the search costs one comparison at most offsets.
func laterRecord(data []byte, from int, last uint64) (at int, index uint64, ok bool) {
	for i := from; i+headerSize <= len(data); i++ {
		idx := binary.LittleEndian.Uint64(data[i+8:])
		if idx <= last || idx-last > uint64(len(data)) {
			continue
		}
		if index, _, _, err := DecodeRecord(data[i:]); err == nil {
			return i, index, true
		}
	}
	return 0, 0, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func truncate(path string, size int64, noSync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil && !noSync {
		err = datasync(f)
	}
	return errors.Join(err, f.Close())
}

// startSegment closes the active segment and creates the next, named by
// l.next. The directory is synced so the new file survives a crash.
func (l *Log) startSegment() error {
	path := filepath.Join(l.opts.Dir, segmentName(l.next))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	if !l.opts.NoSync {
		if err := syncDir(l.opts.Dir); err != nil {
			_ = f.Close()
			return fmt.Errorf("wal: create segment %s: %w", path, err)
		}
	}
	if l.f != nil {
		if err := l.closeActive(); err != nil {
			_ = f.Close()
			return fmt.Errorf("wal: close segment before %s: %w", path, err)
		}
	}
	if n := len(l.segs); n > 0 && l.segs[n-1].first == l.next {
		l.segs = l.segs[:n-1] // an empty segment of the same name was replaced
	}
	l.segs = append(l.segs, segment{first: l.next, path: path})
	l.f, l.size, l.end = f, 0, 0
	return nil
}

// reserve allocates the active segment's space (zeros, as the file's
// size) up to reserveBytes past upto, so that the next appends write into
// space the file already has and their syncs need not record a new size
// each time: an fdatasync then costs about a third less CPU here. It only
// saves work: when the file system cannot reserve space, records are
// appended as before. Nor does it reserve on a file system with less than
// reserveRoom free, so that on a disk that fills up the log runs out of
// room, and the store refuses writes, when it would without reserving.
func (l *Log) reserve(upto int64) {
	want := upto + reserveBytes
	if freeBytes(l.f) < reserveRoom {
		return
	}
	if preallocate(l.f, l.end, want-l.end) == nil {
		l.end = want
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Append writes payload as the next record and returns its index once it
// is on disk (with NoSync, once written). On error the record is not in the
// log.
func (l *Log) Append(payload []byte) (uint64, error) {
	if len(payload) > MaxPayload {
		return 0, fmt.Errorf("wal: record of %d bytes is over the limit %d", len(payload), MaxPayload)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, fmt.Errorf("wal: an earlier append failed and could not be undone, so the log's tail is unknown until it is opened again: %w", l.err)
	}
	if l.f == nil {
		return 0, fmt.Errorf("wal: append: %w", os.ErrClosed)
	}
	if l.size >= l.opts.SegmentBytes {
		if err := l.startSegment(); err != nil {
			return 0, err
		}
	}
	index := l.next
	l.buf = appendRecord(l.buf[:0], index, payload)
	if upto := l.size + int64(len(l.buf)); upto > l.end {
		l.reserve(upto)
	}
	err := l.write(index)
	if err != nil {
		if uerr := l.undo(); uerr != nil {
			l.err = uerr
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return 0, fmt.Errorf("wal: append record %d to %s: %w", index, l.segs[len(l.segs)-1].path, err)
	}
	l.size += int64(len(l.buf))
	l.end = max(l.end, l.size)
	l.next++
	if cap(l.buf) > 4<<20 {
		l.buf = nil // one huge record need not pin its buffer
	}
	return index, nil
}

func (l *Log) write(index uint64) error {
	if l.opts.BeforeWrite != nil {
		if err := l.opts.BeforeWrite(index); err != nil {
			return err
		}
	}
	if _, err := l.f.WriteAt(l.buf, l.size); err != nil {
		return err
	}
	if l.opts.NoSync {
		return nil
	}
	return datasync(l.f)
}

// undo cuts the active segment back to its size before the failed write.
func (l *Log) undo() error {
	if err := l.f.Truncate(l.size); err != nil {
		return err
	}
	l.end = l.size
	if l.opts.NoSync {
		return nil
	}
	return datasync(l.f)
}

// Release deletes the segments all of whose records have indexes at or
// below upto: the caller has made them durable elsewhere. The active
// segment is kept.
func (l *Log) Release(upto uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for len(l.segs) > 1 && l.segs[1].first <= upto+1 {
		if err := os.Remove(l.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			break
		}
		l.segs = l.segs[1:]
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wal: release records up to %d: %w", upto, err)
	}
	return nil
}

// LastIndex is the index of the last record appended (or replayed); 0 for
// a log that never held one.
func (l *Log) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// Segments lists the paths of the segment files, oldest first.
func (l *Log) Segments() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.segs))
	for i, sg := range l.segs {
		out[i] = sg.path
	}
	return out
}

// Close closes the active segment; every record appended is already on
// disk. It is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.closeActive()
	l.f = nil
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}

// closeActive gives back the active segment's reserved space and closes
// it, so that only the segment being written holds any. The cut need not
// be synced: reserved zeros left by a crash are read as the segment's end.
func (l *Log) closeActive() error {
	var err error
	if l.end > l.size {
		err = l.f.Truncate(l.size)
	}
	return errors.Join(err, l.f.Close())
}
