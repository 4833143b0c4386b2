package node

import (
	"errors"
	"log/slog"
	"time"

	"github.com/shardgate/shardgate/shard"
)

// Config of the engine. Durations are wall-clock time.
type Config struct {
	Name  string
	Shard shard.Config // partitions, backups, load factor, hash

	// WSAddr and AdminAddr are this node's advertised listener addresses
	// (host:port), used to build URLs for route answers and moved hints.
	WSAddr    string
	AdminAddr string
	// TLS says the listeners serve wss:// and https://. The URLs of every
	// node follow it: a cluster runs TLS on all its nodes or on none.
	TLS bool

	// ForwardRetry is the time a request gets to reach its key's home and
	// be served there, retries included (a shard in cut-over answers
	// "unavailable" for a moment). After it the caller gets 1003 with the
	// reason: clients can tell an unavailable shard from a slow one.
	ForwardRetry time.Duration
	// HeartbeatInterval is how often this node calls every peer over the
	// node links; LinkFailAfter is how long all such calls to a peer may
	// fail before this node reports it unreachable. A peer a majority
	// cannot reach is treated as failed. 0 turns the check off.
	HeartbeatInterval time.Duration
	LinkFailAfter     time.Duration
	// ReadRetry is the same budget for everything that is not a write
	// (reads, registrations of connections, presence).
	ReadRetry time.Duration
	// ReplicateTimeout bounds how long a batch waits for its backups; a
	// backup that has not confirmed by then fails the batch with 1003.
	// Keep it below ForwardRetry.
	ReplicateTimeout time.Duration
	// PlanInterval is how often the coordinator re-evaluates the table even
	// without membership events.
	PlanInterval time.Duration
	// MaxPendingPerNode caps concurrent copies into one node.
	MaxPendingPerNode int
	// SnapshotChunkBytes is the size of one chunk of a shard copy.
	SnapshotChunkBytes int
	// MaxBatch is the most writes one shard writer commits together.
	MaxBatch int
	// WriterQueue and WriterQueueBytes bound the writes waiting for one
	// shard's writer (count, and bytes of message data). A write that
	// finds the queue full is answered 1002 at once, so overload pushes
	// back instead of growing the ack latency without bound.
	WriterQueue      int
	WriterQueueBytes int64
	// PushQueueMessages and PushQueueBytes bound the queue of messages
	// waiting to be pushed to one peer node. A push that finds it full is
	// dropped (counted in shardgate_delivery_push_dropped_total) and the
	// peer's connections read it from history instead.
	PushQueueMessages int
	PushQueueBytes    int
	// DrainTimeout bounds a graceful stop: after it the node leaves anyway.
	DrainTimeout time.Duration
	// StatsInterval is how often this node tells its peers its load.
	StatsInterval time.Duration
	// EventLogSize is how many entries of the cluster's event log every
	// node keeps (the oldest go first).
	EventLogSize int
	// DropGrace is how long data of a shard this node no longer holds is kept
	// before it is deleted.
	DropGrace time.Duration
	// AckBeforeReplicate acknowledges writes before the backups have them.
	// It exists only so the chaos suite can prove it detects lost messages;
	// never set it in production.
	AckBeforeReplicate bool
	// ReplicateFault is a fault-injection hook for tests: when it returns an
	// error, replicating a batch of shard to peer fails with it, as if the
	// peer had refused. nil in production.
	ReplicateFault func(peer string, shard int) error
	// StoreFault is a fault-injection hook for tests: when it returns an
	// error, local writes and the disk probe fail with it (a wrapped
	// syscall.ENOSPC plays a full disk). nil in production.
	StoreFault func() error
	// DiskProbeInterval is how often a node whose disk is full tries a
	// small write to learn that space has returned.
	DiskProbeInterval time.Duration

	Logger *slog.Logger
	// Now is the engine's clock (default time.Now): event and message
	// timestamps, link-health ages, the expiry of in-doubt sends and the
	// grace before dropping shard data read it, so a test can move time
	// by hand. Timers and latency metrics use the real clock.
	Now func() time.Time
}

// DefaultConfig is for production clusters.
func DefaultConfig() Config {
	return Config{
		Shard:              shard.DefaultConfig(),
		ForwardRetry:       900 * time.Millisecond,
		ReplicateTimeout:   600 * time.Millisecond,
		ReadRetry:          3 * time.Second,
		HeartbeatInterval:  500 * time.Millisecond,
		LinkFailAfter:      2500 * time.Millisecond,
		PlanInterval:       500 * time.Millisecond,
		MaxPendingPerNode:  16,
		SnapshotChunkBytes: 512 << 10,
		MaxBatch:           512,
		WriterQueue:        4096,
		WriterQueueBytes:   16 << 20,
		DiskProbeInterval:  time.Second,
		PushQueueMessages:  4096,
		PushQueueBytes:     8 << 20,
		DrainTimeout:       60 * time.Second,
		StatsInterval:      time.Second,
		DropGrace:          30 * time.Second,
		EventLogSize:       4096,
	}
}

// DefaultLocalConfig reacts faster, for tests and `shardgate dev`.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.PlanInterval = 100 * time.Millisecond
	c.DrainTimeout = 20 * time.Second
	c.StatsInterval = 500 * time.Millisecond
	c.DropGrace = 5 * time.Second
	return c
}

// Validate reports the first unusable setting as a sentence.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("node name is empty")
	}
	if err := c.Shard.Validate(); err != nil {
		return err
	}
	if c.ForwardRetry < 0 || c.ReplicateTimeout < 0 || c.PlanInterval <= 0 || c.StatsInterval <= 0 || c.DiskProbeInterval <= 0 {
		return errors.New("node timings must be positive")
	}
	if c.PushQueueMessages <= 0 || c.PushQueueBytes <= 0 {
		return errors.New("node push queue bounds must be positive")
	}
	if c.WriterQueue <= 0 || c.WriterQueueBytes <= 0 {
		return errors.New("node writer queue bounds must be positive")
	}
	if c.MaxBatch <= 0 || c.SnapshotChunkBytes <= 0 {
		return errors.New("node batch and chunk sizes must be positive")
	}
	return nil
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.ForwardRetry == 0 {
		c.ForwardRetry = d.ForwardRetry
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.ReadRetry == 0 {
		c.ReadRetry = d.ReadRetry
	}
	if c.ReplicateTimeout == 0 {
		c.ReplicateTimeout = min(d.ReplicateTimeout, c.ForwardRetry)
	}
	if c.WriterQueue == 0 {
		c.WriterQueue = d.WriterQueue
	}
	if c.DiskProbeInterval == 0 {
		c.DiskProbeInterval = d.DiskProbeInterval
	}
	if c.WriterQueueBytes == 0 {
		c.WriterQueueBytes = d.WriterQueueBytes
	}
	if c.PushQueueMessages == 0 {
		c.PushQueueMessages = d.PushQueueMessages
	}
	if c.PushQueueBytes == 0 {
		c.PushQueueBytes = d.PushQueueBytes
	}
	if c.SnapshotChunkBytes == 0 {
		c.SnapshotChunkBytes = d.SnapshotChunkBytes
	}
	if c.PlanInterval == 0 {
		c.PlanInterval = d.PlanInterval
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = d.StatsInterval
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.EventLogSize == 0 {
		c.EventLogSize = d.EventLogSize
	}
	if c.DropGrace == 0 {
		c.DropGrace = d.DropGrace
	}
}
