package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

const metaTableKey = "table"

// tables owns the partition table in force: it loads the one persisted
// before a restart, persists every newer one before it takes effect, and
// signals each change. Readers (current, changed) take only a read lock
// that no disk write is ever made under: installs are serialised by their
// own lock, persist first, and then swap the table in a moment.
type tables struct {
	partitions int
	store      tableStore

	installMu sync.Mutex // one install at a time: persist, then swap
	unsaved   error      // why the table in force is not on disk (a full disk); under installMu

	mu   sync.RWMutex
	t    shard.Table
	wait chan struct{} // closed and replaced on every change
}

// newTables loads the table persisted in st, if any. A stored table for
// another number of partitions is an error: the data dir belongs to a
// different cluster.
func newTables(partitions int, st tableStore) (*tables, error) {
	if partitions <= 0 {
		return nil, fmt.Errorf("node: table: partitions must be positive, not %d", partitions)
	}
	if st == nil {
		return nil, errors.New("node: table: no store to persist tables in")
	}
	k := &tables{partitions: partitions, store: st, wait: make(chan struct{})}
	raw, err := st.GetMeta(metaTableKey)
	if err != nil {
		return nil, fmt.Errorf("node: load table: %w", err)
	}
	if raw == nil {
		return k, nil
	}
	t, err := decodeTable(raw)
	if err != nil {
		return nil, fmt.Errorf("node: decode stored table: %w", err)
	}
	if t.Partitions != partitions {
		return nil, fmt.Errorf("node: the data dir holds a table for %d partitions but --partitions is %d", t.Partitions, partitions)
	}
	k.t = t
	return k, nil
}

// DataCluster reads what a data dir says of the cluster it belongs to:
// the identity in its last table ("" when it has none, or one of a version
// without identities) and, if the dir holds any message, that identity
// again as data. A node started on it gossips both (cluster.Meta Cluster
// and Data), so that it is never merged into another cluster, which would
// replace its table and lose its messages.
func DataCluster(st *store.Store) (table, data string, err error) {
	raw, err := st.GetMeta(metaTableKey)
	if err != nil || raw == nil {
		return "", "", err
	}
	t, err := decodeTable(raw)
	if err != nil {
		return "", "", fmt.Errorf("node: decode stored table: %w", err)
	}
	shards, err := st.Shards()
	if err != nil {
		return "", "", err
	}
	for _, s := range shards {
		if msgs, _ := st.ShardStats(s); msgs > 0 {
			return t.Cluster, t.Cluster, nil
		}
	}
	return t.Cluster, "", nil
}

func decodeTable(raw []byte) (shard.Table, error) {
	var t shard.Table
	err := json.Unmarshal(raw, &t)
	return t, err
}

// newer orders tables by (version, coordinator): two coordinators that
// published the same version during a membership change converge on one.
func newer(a, b shard.Table) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return a.Coordinator > b.Coordinator
}

// current returns the table in force. Callers must not modify it.
func (k *tables) current() shard.Table {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.t
}

// changed returns a channel closed at the next table change.
func (k *tables) changed() <-chan struct{} {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.wait
}

// install makes t the table in force if it is newer, persisting it first so
// a restart never goes back to an older table. It reports whether t was
// installed. Readers keep reading the old table while t is written.
func (k *tables) install(t shard.Table) (bool, error) {
	if t.Partitions != k.partitions || len(t.Shards) != t.Partitions {
		return false, shardgate.Errorf(shardgate.KindInvalid, "table for %d partitions refused: this node has %d", t.Partitions, k.partitions)
	}
	k.installMu.Lock()
	defer k.installMu.Unlock()
	// Only installs change the table, and they are serialised: what is
	// read here stays in force until the swap below.
	if !newer(t, k.current()) {
		return false, nil
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return false, fmt.Errorf("node: encode table: %w", err)
	}
	if err := k.store.PutMeta(metaTableKey, raw); err != nil {
		if !store.IsDiskFull(err) {
			return false, fmt.Errorf("node: persist table v%d: %w", t.Version, err)
		}
		// A full disk must not hold this node on a table the cluster has
		// left: it would serve reads of shards that moved away and send
		// writes to old homes. The table takes effect unsaved; the next
		// install that finds room saves the newest, and a restart that
		// loads an older one takes the cluster's from its peers before
		// it serves (syncTable).
		k.unsaved = fmt.Errorf("node: persist table v%d: %w", t.Version, err)
	} else {
		k.unsaved = nil
	}
	k.mu.Lock()
	k.t = t
	close(k.wait)
	k.wait = make(chan struct{})
	k.mu.Unlock()
	return true, nil
}

// unsavedErr says why the table in force is not on disk, or nil when it is.
func (k *tables) unsavedErr() error {
	k.installMu.Lock()
	defer k.installMu.Unlock()
	return k.unsaved
}
