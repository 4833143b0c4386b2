package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/memberlist"

	"github.com/shardgate/shardgate"
)

// MaxMetaBytes is the most metadata memberlist carries per node. memberlist
// panics on more, so every encoding is checked against it.
const MaxMetaBytes = memberlist.MetaMaxSize

// Meta is what a node tells the cluster about itself. It travels in every
// alive message, so the JSON keys are one letter long.
type Meta struct {
	Name      string `json:"n"`
	WSAddr    string `json:"w"` // public listener, host:port
	AdminAddr string `json:"a"` // admin listener, host:port
	// State is one of shardgate.StateJoining, StateActive, StateDraining,
	// StateLeft. A node sets StateLeft itself just before a graceful leave,
	// which is how the others tell a leave from a crash.
	State      string `json:"s"`
	Partitions int    `json:"p"`
	// StartedAt is when this process started, in Unix milliseconds. The
	// coordinator is the oldest active member, and a change of StartedAt
	// under the same name means the node restarted.
	StartedAt    int64  `json:"t"`
	TableVersion uint64 `json:"v"` // newest partition table this node has
	// ID names the node's data dir, made when the dir was: a process that
	// restarts on the same data keeps it, a second node given the same
	// name on other data does not, and is refused (ErrNameTaken).
	ID string `json:"i,omitempty"`
	// Cluster is the identity of the cluster whose table this node holds
	// (shard.Table.Cluster); "" before its first table.
	Cluster string `json:"c,omitempty"`
	// Data is set by a node that started on a data dir holding messages:
	// the cluster those messages belong to. Such a node and a cluster with
	// another identity refuse each other, since joining would replace its
	// table by theirs and its messages would be gone. A node that started
	// on an empty data dir leaves it "" and may join any cluster.
	Data string `json:"d,omitempty"`
	// Auth is a fingerprint of how this node checks client tokens (its
	// secret and claims rules, never the secret itself). Nodes of one
	// cluster should agree: a token accepted by one node and refused by
	// another fails its client at random. A difference is warned of, not
	// refused, since changing the secret means restarting nodes one by one.
	Auth string `json:"k,omitempty"`
	// Copies is 1 + this node's --backups (0 from a node that does not
	// say). The coordinator plans with the most any live member asks for,
	// so one node started with fewer backups never lowers the copies of
	// the whole cluster.
	Copies int `json:"b,omitempty"`
}

// AuthDiffers reports whether the nodes m and o describe check client
// tokens otherwise (Auth); a node that does not say (an older version)
// differs from nobody.
func (m Meta) AuthDiffers(o Meta) bool {
	return m.Auth != "" && o.Auth != "" && m.Auth != o.Auth
}

// encode returns the gossip form, refusing what memberlist could not carry.
func (m Meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode node metadata: %w", err)
	}
	if len(b) > MaxMetaBytes {
		return nil, fmt.Errorf("cluster: node metadata is %d bytes, the limit is %d; shorten the node name or addresses: %w",
			len(b), MaxMetaBytes, ErrMetaTooLarge)
	}
	return b, nil
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("cluster: node has no metadata")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("cluster: decode node metadata: %w", err)
	}
	return m, nil
}

// validState reports whether s is a state a node may announce for itself.
// "dead" is not: only failure detection says that.
func validState(s string) bool {
	switch s {
	case shardgate.StateJoining, shardgate.StateActive, shardgate.StateDraining, shardgate.StateLeft:
		return true
	}
	return false
}

// metaState is the local metadata and its encoding, swapped as one value so
// memberlist's NodeMeta callback never takes a lock that UpdateMeta holds
// while it waits for memberlist.
type metaState struct {
	meta Meta
	raw  []byte
}
