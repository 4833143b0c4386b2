package node

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/shardgate/shardgate/shard"
)

// metaStore keeps meta values in memory; full makes PutMeta fail as a full
// disk does.
type metaStore struct {
	vals map[string][]byte
	full bool
}

func (m *metaStore) GetMeta(key string) ([]byte, error) { return m.vals[key], nil }

func (m *metaStore) PutMeta(key string, val []byte) error {
	if m.full {
		return fmt.Errorf("store: put meta: %w", &os.PathError{Op: "write", Path: "/data/shardgate.db", Err: syscall.ENOSPC})
	}
	m.vals[key] = val
	return nil
}

func tableV(version uint64) shard.Table {
	return shard.Table{Version: version, Partitions: 4, Coordinator: "n1", Shards: make([]shard.Assignment, 4)}
}

// A full disk does not hold a node on a table the cluster has left: the
// newer table takes effect unsaved, the next install with room saves the
// newest, and a restart loads what was saved (older, taken from the peers
// by syncTable). Any other persist error still refuses the table.
func TestTableTakesEffectWhenTheDiskIsFull(t *testing.T) {
	st := &metaStore{vals: map[string][]byte{}}
	k, err := newTables(4, st)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := k.install(tableV(1)); !ok || err != nil {
		t.Fatalf("install v1: %v %v", ok, err)
	}
	st.full = true
	changed := k.changed()
	if ok, err := k.install(tableV(2)); !ok || err != nil {
		t.Fatalf("install v2 on a full disk: installed %v, %v; want it in force", ok, err)
	}
	if v := k.current().Version; v != 2 {
		t.Fatalf("table in force v%d, want v2", v)
	}
	select {
	case <-changed:
	default:
		t.Fatal("no change signal for the unsaved table")
	}
	if k.unsavedErr() == nil {
		t.Fatal("the unsaved table is not reported")
	}
	if again, err := newTables(4, st); err != nil || again.current().Version != 1 {
		t.Fatalf("after a restart: v%d, %v; want the saved v1", again.current().Version, err)
	}
	st.full = false
	if ok, err := k.install(tableV(3)); !ok || err != nil || k.unsavedErr() != nil {
		t.Fatalf("install v3 with room: %v %v, unsaved %v", ok, err, k.unsavedErr())
	}
	if again, err := newTables(4, st); err != nil || again.current().Version != 3 {
		t.Fatalf("after a restart: v%d, %v; want v3", again.current().Version, err)
	}
}

type brokenMeta struct{ metaStore }

func (brokenMeta) PutMeta(string, []byte) error {
	return fmt.Errorf("store: put meta: checksum mismatch")
}

func TestTableRefusedWhenItCannotBeSaved(t *testing.T) {
	k, err := newTables(4, &brokenMeta{metaStore{vals: map[string][]byte{}}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := k.install(tableV(1)); ok || err == nil || k.current().Version != 0 {
		t.Fatalf("install with a broken store: installed %v, %v, in force v%d; want refused", ok, err, k.current().Version)
	}
}
