package shardgate

import (
	"encoding/json"
	"unicode/utf8"
)

// Limits of the client protocol.
const (
	MaxKeyBytes = 256 // docs/PROTOCOL.md: a key is 1–256 bytes of UTF-8
)

// ValidKey reports whether k is a usable key, with a sentence saying why not.
func ValidKey(k string) error {
	if len(k) == 0 {
		return Errorf(KindInvalid, "key is empty")
	}
	if len(k) > MaxKeyBytes {
		return Errorf(KindInvalid, "key is %d bytes, the limit is %d", len(k), MaxKeyBytes)
	}
	if !utf8.ValidString(k) {
		return Errorf(KindInvalid, "key is not valid UTF-8")
	}
	return nil
}

// Message is one inbox entry. TS is milliseconds since the Unix epoch, set by
// the key's home when the message is stored.
type Message struct {
	Seq  uint64          `json:"seq"`
	From string          `json:"from"`
	Data json.RawMessage `json:"data"`
	TS   int64           `json:"ts"`
	ID   string          `json:"id,omitempty"`
}

// Publication is a live topic message: never stored, at most once.
type Publication struct {
	Topic string          `json:"topic"`
	From  string          `json:"from"`
	Data  json.RawMessage `json:"data"`
	TS    int64           `json:"ts"`
}

// Presence of one key across the cluster.
type Presence struct {
	Online      bool `json:"online"`
	Connections int  `json:"connections"`
}

// SendResult is the answer to a send: the message is durable at Seq.
type SendResult struct {
	To  string `json:"to"`
	Seq uint64 `json:"seq"`
}

// HistoryResult is a page of an inbox. FirstSeq is the lowest seq still
// kept: retention (per key by count and age) removed every message below
// it, so a reader that asked for older ones learns where its inbox now
// starts.
type HistoryResult struct {
	Messages []Message `json:"messages"`
	LastSeq  uint64    `json:"last_seq"`
	FirstSeq uint64    `json:"first_seq"`
}

// Node states (docs/PROTOCOL.md).
const (
	StateJoining  = "joining"
	StateActive   = "active"
	StateDraining = "draining"
	StateLeft     = "left"
	StateDead     = "dead"
	// StateFailed: an operator failed the node over while it was still
	// alive. It serves nothing until it is readmitted or restarted. The
	// engine tells it apart; views show it as StateDead with FailedOver
	// set, keeping to the five states clients know.
	StateFailed = "failed"
)

// Shard states in the partition view.
const (
	ShardStable    = "stable"
	ShardMigrating = "migrating"
)

// Route answers "where does this key live" (docs/PROTOCOL.md).
type Route struct {
	Key     string   `json:"key"`
	Shard   int      `json:"shard"`
	Owner   string   `json:"owner"`
	Backups []string `json:"backups"`
	WSURL   string   `json:"ws_url"`
	Version uint64   `json:"version"`
}

// NodeView is one node in GET /v1/cluster.
type NodeView struct {
	Name           string  `json:"name"`
	State          string  `json:"state"`
	Coordinator    bool    `json:"coordinator"`
	WSURL          string  `json:"ws_url"`
	AdminURL       string  `json:"admin_url"`
	GossipAddr     string  `json:"gossip_addr"`
	Owned          int     `json:"owned"`
	BackedUp       int     `json:"backed_up"`
	Connections    int     `json:"connections"`
	MessagesPerSec float64 `json:"messages_per_sec"`
	MemoryBytes    uint64  `json:"memory_bytes"`
	TableVersion   uint64  `json:"table_version"`
	StartedAt      int64   `json:"started_at"`
	// DiskFull is true while the node refuses writes because its disk is
	// full; it recovers by itself when space returns.
	DiskFull bool `json:"disk_full,omitempty"`
	// FailedOver is true for a node an operator failed over while it
	// still runs: its state reads dead, as the cluster treats it, until
	// it is readmitted or restarted.
	FailedOver bool `json:"failed_over,omitempty"`
	// AuthDiffers is true for a node that checks client tokens otherwise
	// than the node answering (another --auth-secret, --insecure or --jwt-*
	// setting): a token that one accepts the other refuses.
	AuthDiffers bool `json:"auth_differs,omitempty"`
}

// ClusterView is GET /v1/cluster.
type ClusterView struct {
	Version     uint64 `json:"version"`
	Partitions  int    `json:"partitions"`
	Backups     int    `json:"backups"`
	Coordinator string `json:"coordinator"`
	Quorum      bool   `json:"quorum"`
	// Cluster is the cluster's identity, made with its first table ("" before it).
	Cluster string     `json:"cluster,omitempty"`
	Nodes   []NodeView `json:"nodes"`
}

// PartitionView is one shard in GET /v1/partitions.
type PartitionView struct {
	ID       int      `json:"id"`
	Owner    string   `json:"owner"`
	Backups  []string `json:"backups"`
	Pending  []string `json:"pending,omitempty"`
	State    string   `json:"state"`
	Replicas int      `json:"replicas"`
	// UnderReplicated: fewer live committed copies than 1+B, or than the
	// table's members when it has fewer (no node could hold another; the
	// nodes log a warning while the table has fewer members than 1+B). A
	// dead member counts until a table without it is made.
	UnderReplicated bool `json:"under_replicated"`
	// HomeDown: the owner is not a live member (dead, or cut off from this
	// node); its writes and reads wait for a failover.
	HomeDown bool  `json:"home_down,omitempty"`
	Messages int64 `json:"messages"`
	Bytes    int64 `json:"bytes"`
}

// PartitionsView is GET /v1/partitions.
type PartitionsView struct {
	Version    uint64          `json:"version"`
	Partitions []PartitionView `json:"partitions"`
}

// OwnershipChange is one entry of a shard's history: why did it move.
type OwnershipChange struct {
	Shard   int      `json:"shard"`
	Version uint64   `json:"version"`
	At      int64    `json:"at"` // ms since epoch
	From    string   `json:"from"`
	To      string   `json:"to"`
	Backups []string `json:"backups"`
	Reason  string   `json:"reason"`
}

// Admin actions (docs/PROTOCOL.md).
const (
	ActionRebalance = "rebalance"
	ActionDrain     = "drain"
	ActionFailover  = "failover"
	ActionReadmit   = "readmit"
	ActionMove      = "move"
	// ActionRemove forgets a dead node: it is no longer listed.
	ActionRemove = "remove"
)

// Action is one operator request to steer the cluster.
type Action struct {
	Kind  string `json:"action"`          // one of the Action* constants
	Node  string `json:"node,omitempty"`  // drain, failover, readmit: the node; move: the new home
	Shard int    `json:"shard,omitempty"` // move
	// DryRun answers with the plan and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Force carries out an action the guards refuse (no active node, no
	// quorum, fewer than B+1 copies).
	Force bool `json:"force,omitempty"`
	// Actor and Reason are recorded in the event log: who asked and why.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// MoveReport is the plan of an admin action: what it starts, or with
// DryRun, what it would start.
type MoveReport struct {
	Action  string `json:"action"`
	Node    string `json:"node,omitempty"`
	DryRun  bool   `json:"dry_run"`
	Version uint64 `json:"version"` // the table the plan was made from
	// Moves lists every shard that changes home or gains a copy on the way
	// from the table in force to the one the action leads to.
	Moves []Move `json:"moves"`
	// Bytes is the sum of the moves' bytes: the data to copy.
	Bytes int64 `json:"bytes"`
	// EstimateMS is a rough time to carry the plan out, from the copy rate
	// measured so far (milliseconds).
	EstimateMS int64 `json:"estimate_ms"`
	// Summary says in one sentence what the plan does ("nothing to move"
	// included).
	Summary string `json:"summary"`
	// Forced is true when the guards refused the action and Force overrode them.
	Forced  bool   `json:"forced,omitempty"`
	Refusal string `json:"refusal,omitempty"` // the guard's reason, with Forced
}

// Move is one step of a plan: shard gets a copy on To (Bytes to copy, 0
// when To already holds one) in Role; From is the shard's home now, or the
// live copy the data comes from when that home is down or failed over.
type Move struct {
	Shard int    `json:"shard"`
	From  string `json:"from"`
	To    string `json:"to"`
	Role  string `json:"role,omitempty"` // "owner" or "backup"; none in a migration entry's copies
	Bytes int64  `json:"bytes"`
}

// LogEntry is one entry of the cluster's durable event log: who did what,
// and why. The coordinator appends entries and publishes them with the
// partition table, so every node holds the same log.
type LogEntry struct {
	Seq     uint64 `json:"seq"`
	At      int64  `json:"at"`      // ms since epoch
	Version uint64 `json:"version"` // the table version that carried it
	// Type is table, member, migration or action.
	Type   string `json:"type"`
	Actor  string `json:"actor,omitempty"`  // who
	Action string `json:"action,omitempty"` // what: drain, failover, joined, dead, started, copied, ...
	Node   string `json:"node,omitempty"`
	Shard  *int   `json:"shard,omitempty"`
	Reason string `json:"reason,omitempty"` // why
	// Changes (table entries) are the shards whose holders changed.
	Changes []OwnershipChange `json:"changes,omitempty"`
	// Moves (migration and action entries) are the copies concerned.
	Moves []Move `json:"moves,omitempty"`
}

// Log entry types.
const (
	LogTable     = "table"
	LogMember    = "member"
	LogMigration = "migration"
	LogAction    = "action"
)

// Event is one entry of GET /v1/events.
type Event struct {
	Type string `json:"type"` // member, table, migration, stats
	At   int64  `json:"at"`
	Data any    `json:"data"`
}
