package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/store/wal"
)

// Fixed top-level buckets, created on Open.
var (
	// bucketMeta holds GetMeta/PutMeta values: node identity, last table.
	bucketMeta = []byte("meta")
	// bucketShards holds one nested bucket per shard (see shardName).
	bucketShards = []byte("shards")
)

// ErrClosed is returned by every call on a closed Store. It is of kind
// unavailable: during shutdown the caller should retry elsewhere.
var ErrClosed = &shardgate.Error{Kind: shardgate.KindUnavailable, Message: "store is closed"}

// initialMmapSize is mapped up front (address space, not memory or disk) so
// that bbolt rarely has to remap: a remap waits for every open read
// transaction, and a long Snapshot would stall the committer behind it.
const initialMmapSize = 1 << 30

// Store is one node's bbolt file. All methods are safe for concurrent use.
type Store struct {
	cfg Config
	db  *bolt.DB
	log *slog.Logger

	reqs   chan *request // Apply -> committer
	stop   chan struct{} // closed by Close: the committer drains reqs and exits
	exited chan struct{} // closed by the committer when it is gone
	cancel context.CancelFunc
	wg     sync.WaitGroup

	wal *wal.Log

	// txMu guards the batch (see batch.go) and everything below it: the
	// committer holds it from applying a group until the group's log
	// record is synced, readers while they read the batch.
	txMu         sync.Mutex
	btx          *bolt.Tx  // the open batch, nil when all is materialised
	btxSince     time.Time // when btx began
	pending      [][]byte  // log records applied to btx, for rebuilding it
	pendingOps   int
	pendingBytes int
	applied      uint64 // index of the last log record applied to the file or btx
	matErr       error  // the last materialisation failed; Apply refuses until one succeeds
	broken       error  // the batch could not be rebuilt; every write fails until reopened

	// statsMu guards stats, which change with every group commit (after
	// its record is synced) and with DropShard, in that order.
	statsMu sync.RWMutex
	stats   map[int]shardStats
	used    atomic.Int64 // sum of the shards' bytes, for MaxBytes

	// hookTook, if set (tests only), runs on the committer when it holds
	// the first request of a batch, before it gathers the rest.
	hookTook func()
	// hookCrash, if set (tests only), is called at named points of the
	// write path, where the crash test kills the process.
	hookCrash func(point string)

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store's file, its fixed buckets, and
// starts the committer and, with MaxAge set, the age sweeper.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	db, err := openDB(cfg)
	if err != nil {
		return nil, openErr(cfg.Path, err)
	}
	s := &Store{
		cfg:    cfg,
		db:     db,
		log:    cfg.Logger,
		reqs:   make(chan *request, 4096),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
		stats:  make(map[int]shardStats),
	}
	if err := s.load(); err != nil {
		if s.wal != nil {
			_ = s.wal.Close()
		}
		_ = db.Close()
		return nil, openErr(cfg.Path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.goFunc(s.runCommitter)
	if cfg.MaxAge > 0 {
		s.goFunc(func() { s.runSweeper(ctx) })
	}
	return s, nil
}

// ErrDamaged says the store's file or its write-ahead log is damaged in a
// way that loses acknowledged writes if the node goes on with it.
var ErrDamaged = errors.New("store damaged")

// damaged marks err as ErrDamaged without changing its message.
type damaged struct{ error }

func (d damaged) Unwrap() []error { return []error{d.error, ErrDamaged} }

// openErr is the refusal to open the store at path, with what an operator
// can do when the damage is the disk's.
func openErr(path string, err error) error {
	if errors.Is(err, wal.ErrCorrupt) || errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) {
		err = damaged{err}
	}
	if errors.Is(err, ErrDamaged) {
		return fmt.Errorf("store: open %s: %w; this node's shards have copies on its peers (with --backups 1 or more): move its data dir aside and start it again on an empty one to have them copied back", path, err)
	}
	return fmt.Errorf("store: open %s: %w", path, err)
}

func openDB(cfg Config) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{
		Timeout:         openTimeout,
		NoSync:          cfg.NoSync,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
		// The freelist is rebuilt from the pages on open; not writing it on
		// every commit saves a page write per group commit.
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		err = fmt.Errorf("the file is locked by another process (gave up after %s): %w", openTimeout, err)
	}
	return db, err
}

// load creates the fixed buckets, replays the write-ahead log and rebuilds
// the in-memory statistics from the per-shard records kept beside the data.
func (s *Store) load() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketShards, bucketWAL} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.replayLog(); err != nil {
		return fmt.Errorf("write-ahead log %s: %w", s.cfg.WALDir, err)
	}
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketShards).ForEachBucket(func(name []byte) error {
			id, ok := shardID(name)
			if !ok {
				return fmt.Errorf("shard bucket %x: %w", name, errCorrupt)
			}
			b := tx.Bucket(bucketShards).Bucket(name)
			s.setStatsLocked(id, decodeStats(b.Get(statsKey)))
			return nil
		})
	})
}

// goFunc starts f on a goroutine that Close waits for.
func (s *Store) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Close stops the sweeper and the committer (which first commits what is
// already queued), waits for both, materialises the batch, and closes the
// log and the file. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancel()
		close(s.stop)
		s.wg.Wait()
		s.txMu.Lock()
		var errs []error
		if s.broken == nil {
			errs = append(errs, s.materializeLocked())
		} else if s.btx != nil {
			// The log still holds it all; the next Open replays it.
			_ = s.btx.Rollback()
			s.btx = nil
		}
		errs = append(errs, s.wal.Close(), s.db.Close())
		s.txMu.Unlock()
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("store: close %s: %w", s.cfg.Path, err)
		}
	})
	return s.closeErr
}

// view runs fn in a read transaction, or in the batch when one is open
// (then under txMu, so fn must be quick and must not call the store).
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.txMu.Lock()
	if s.btx != nil {
		defer s.txMu.Unlock()
		return fn(s.btx)
	}
	s.txMu.Unlock()
	// Nothing is waiting to be materialised: the file holds every
	// acknowledged write, and readers may run side by side.
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// update runs fn in the batch and materialises it at once: for rare writes
// that are not logged (meta, events, dropping a shard), whose durability is
// the file's own commit. If fn fails nothing of it is kept.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.updateLocked(fn)
}

func (s *Store) updateLocked(fn func(tx *bolt.Tx) error) error {
	if s.broken != nil {
		return fmt.Errorf("store needs reopening: %w", s.broken)
	}
	if err := s.beginLocked(); err != nil {
		return err
	}
	if err := fn(s.btx); err != nil {
		return errors.Join(err, s.rebuildLocked())
	}
	return s.materializeLocked()
}

// shardBucket is the shard's bucket, nil if the shard holds nothing.
func shardBucket(tx *bolt.Tx, shard int) *bolt.Bucket {
	if shard < 0 || shard > maxShard {
		return nil
	}
	return tx.Bucket(bucketShards).Bucket(shardName(shard))
}

// shardStats are the counters ShardStats reports: stored messages and the
// bytes of their records (keys and values).
type shardStats struct {
	messages, bytes int64
}

func (st shardStats) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(st.messages))
	return binary.BigEndian.AppendUint64(b, uint64(st.bytes))
}

func decodeStats(v []byte) shardStats {
	if len(v) != 16 {
		return shardStats{}
	}
	return shardStats{
		messages: int64(binary.BigEndian.Uint64(v)),
		bytes:    int64(binary.BigEndian.Uint64(v[8:])),
	}
}

// setStatsLocked replaces a shard's statistics and keeps the total in step;
// statsMu is held (or the store is not shared yet).
func (s *Store) setStatsLocked(id int, st shardStats) {
	s.used.Add(st.bytes - s.stats[id].bytes)
	if st == (shardStats{}) {
		delete(s.stats, id)
		return
	}
	s.stats[id] = st
}

// UsedBytes is the size of every stored message record (keys and values)
// across all shards: what MaxBytes limits. The file itself may be larger:
// bbolt reuses freed pages but never shrinks the file.
func (s *Store) UsedBytes() int64 { return s.used.Load() }

// Writable reports whether new messages may be stored: nil, or an error of
// kind storage_full once UsedBytes reaches MaxBytes. Reads, acks and
// retention go on regardless, and trimming makes room again.
func (s *Store) Writable() error {
	if s.cfg.MaxBytes > 0 && s.used.Load() >= s.cfg.MaxBytes {
		return shardgate.Errorf(shardgate.KindStorageFull,
			"storage full: this node stores %d bytes of messages, its limit (--max-storage-bytes) is %d; writes are refused until retention frees space, reads still work",
			s.used.Load(), s.cfg.MaxBytes)
	}
	return nil
}

// ShardStats reports the shard's stored messages and their bytes from
// in-memory counters; it never touches the file.
func (s *Store) ShardStats(shard int) (messages, bytes int64) {
	s.statsMu.RLock()
	defer s.statsMu.RUnlock()
	st := s.stats[shard]
	return st.messages, st.bytes
}

// Size is the size of the file in bytes (0 if it cannot be read). bbolt
// files never shrink; freed pages are reused.
func (s *Store) Size() int64 {
	fi, err := os.Stat(s.cfg.Path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
