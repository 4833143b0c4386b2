package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults used by DefaultConfig and, for zero fields where zero has no other
// meaning, by Open.
const (
	DefaultMaxBatchOps   = 8192
	DefaultMaxMessages   = 100000
	DefaultSweepInterval = time.Minute
	// DefaultMaxReadBytes bounds one page of History by the size of its
	// messages: with JSON escaping a page grows at most sixfold on a node
	// link, far under the link's frame limit.
	DefaultMaxReadBytes = 2 << 20
	// DefaultMaterializeInterval and DefaultMaterializeOps bound how much
	// the open batch gathers before it is committed to the file: the
	// longer, the fewer page writes per op, and the more the log replays
	// after a crash.
	DefaultMaterializeInterval = 500 * time.Millisecond
	DefaultMaterializeOps      = 50000
)

// openTimeout bounds the wait for bbolt's file lock, so a second process on
// the same file fails with a clear error instead of hanging. A variable so
// tests need not wait for it.
var openTimeout = 2 * time.Second

// Config of a Store. Zero values of MaxBatchOps and SweepInterval mean "use
// the default"; zero MaxMessages and MaxAge mean "keep forever".
type Config struct {
	// Path of the bbolt file; created if missing.
	Path string
	// WALDir is the directory of the write-ahead log's segment files.
	// Default: Path + ".wal". It belongs with the file: a file opened
	// without its log loses the writes the log held.
	WALDir string
	// WALSegmentBytes is the size (bytes) at which the log starts a new
	// segment file. 0 = wal.DefaultSegmentBytes (64 MiB).
	WALSegmentBytes int64
	// MaterializeInterval is how long logged writes may wait before they
	// are committed to the file. Default 500ms.
	MaterializeInterval time.Duration
	// MaterializeOps commits logged writes to the file once this many ops
	// wait. Default 50000.
	MaterializeOps int
	// NoSync skips fsync on commit. Tests only: a crash loses acknowledged
	// writes.
	NoSync bool
	// MaxBatchOps is the most ops the committer puts in one transaction
	// (one Apply call is never split, so a bigger call commits alone).
	// Default 8192.
	MaxBatchOps int
	// MaxMessages is how many messages each key keeps; older ones are
	// trimmed when a new one is appended. 0 = unlimited. Default 100000.
	MaxMessages int
	// MaxAge trims messages whose Message.TS (ms) is older than this.
	// 0 = keep forever.
	MaxAge time.Duration
	// SweepInterval is how often the age sweeper runs when MaxAge > 0.
	// Default 1m.
	SweepInterval time.Duration
	// MaxBytes is the storage limit of the node: once the stored messages
	// (keys and values of their records) add up to it, Writable refuses
	// new messages. 0 = no limit.
	MaxBytes int64
	// MaxReadBytes ends a History page once its messages' stored size
	// reaches it (a page always holds at least one message). Default 2 MiB.
	MaxReadBytes int
	// Now is the clock for ages; nil = time.Now.
	Now func() time.Time
	// OnCommit, if set, is called by the committer after every durable
	// commit with its duration and number of ops. It must not block.
	OnCommit func(d time.Duration, ops int)
	// Logger for background failures; nil = discard.
	Logger *slog.Logger

	// walFault, if set (tests only), fails log writes: see
	// wal.Options.BeforeWrite.
	walFault func(index uint64) error
}

// DefaultConfig is the configuration for a node's store at path.
func DefaultConfig(path string) Config {
	return Config{
		Path:          path,
		MaxBatchOps:   DefaultMaxBatchOps,
		MaxMessages:   DefaultMaxMessages,
		SweepInterval: DefaultSweepInterval,
	}
}

// Validate reports, in sentences a user understands, what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("store: path of the database file is empty"))
	}
	if c.MaxBatchOps < 0 {
		errs = append(errs, fmt.Errorf("store: max batch ops is %d, it must be 0 (default) or more", c.MaxBatchOps))
	}
	if c.MaxMessages < 0 {
		errs = append(errs, fmt.Errorf("store: max messages per key is %d, it must be 0 (unlimited) or more", c.MaxMessages))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("store: max message age is %s, it must be 0 (forever) or more", c.MaxAge))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("store: max storage bytes is %d, it must be 0 (no limit) or more", c.MaxBytes))
	}
	if c.MaxReadBytes < 0 {
		errs = append(errs, fmt.Errorf("store: max read bytes is %d, it must be 0 (default) or more", c.MaxReadBytes))
	}
	if c.WALSegmentBytes < 0 {
		errs = append(errs, fmt.Errorf("store: log segment size is %d bytes, it must be 0 (default) or more", c.WALSegmentBytes))
	}
	if c.MaterializeInterval < 0 {
		errs = append(errs, fmt.Errorf("store: materialise interval is %s, it must be 0 (default) or more", c.MaterializeInterval))
	}
	if c.MaterializeOps < 0 {
		errs = append(errs, fmt.Errorf("store: materialise ops is %d, it must be 0 (default) or more", c.MaterializeOps))
	}
	if c.SweepInterval < 0 {
		errs = append(errs, fmt.Errorf("store: sweep interval is %s, it must be 0 (default) or more", c.SweepInterval))
	}
	return errors.Join(errs...)
}

// withDefaults fills the fields whose zero value means "default".
func (c Config) withDefaults() Config {
	if c.MaxBatchOps == 0 {
		c.MaxBatchOps = DefaultMaxBatchOps
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.MaxReadBytes == 0 {
		c.MaxReadBytes = DefaultMaxReadBytes
	}
	if c.WALDir == "" {
		c.WALDir = c.Path + ".wal"
	}
	if c.MaterializeInterval == 0 {
		c.MaterializeInterval = DefaultMaterializeInterval
	}
	if c.MaterializeOps == 0 {
		c.MaterializeOps = DefaultMaterializeOps
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
