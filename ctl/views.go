package ctl

// The views below mirror the admin API's JSON (docs/PROTOCOL.md) with the fields
// the tables show. They are the client's own: a field the server adds is
// ignored here and still printed by --json, which passes answers through.

type clusterView struct {
	Version     uint64     `json:"version"`
	Partitions  int        `json:"partitions"`
	Backups     int        `json:"backups"`
	Coordinator string     `json:"coordinator"`
	Quorum      *bool      `json:"quorum"`
	Nodes       []nodeView `json:"nodes"`
}

type nodeView struct {
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
}

type partitionsView struct {
	Version    uint64          `json:"version"`
	Partitions []partitionView `json:"partitions"`
}

type partitionView struct {
	ID              int      `json:"id"`
	Owner           string   `json:"owner"`
	Backups         []string `json:"backups"`
	Pending         []string `json:"pending"`
	State           string   `json:"state"`
	UnderReplicated bool     `json:"under_replicated"`
	Messages        int64    `json:"messages"`
	Bytes           int64    `json:"bytes"`
}

type routeView struct {
	Key     string   `json:"key"`
	Shard   int      `json:"shard"`
	Owner   string   `json:"owner"`
	Backups []string `json:"backups"`
	WSURL   string   `json:"ws_url"`
	Version uint64   `json:"version"`
}

type historyView struct {
	Shard   int          `json:"shard"`
	History []changeView `json:"history"`
}

type changeView struct {
	Version uint64   `json:"version"`
	At      int64    `json:"at"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Backups []string `json:"backups"`
	Reason  string   `json:"reason"`
}

// planView is the answer of every action: what it started or, with
// dry_run, what it would start.
type planView struct {
	Action     string     `json:"action"`
	Node       string     `json:"node"`
	DryRun     bool       `json:"dry_run"`
	Version    uint64     `json:"version"`
	Moves      []moveView `json:"moves"`
	Bytes      int64      `json:"bytes"`
	EstimateMS int64      `json:"estimate_ms"`
	Summary    string     `json:"summary"`
	Forced     bool       `json:"forced"`
	Refusal    string     `json:"refusal"`
}

type moveView struct {
	Shard int    `json:"shard"`
	From  string `json:"from"`
	To    string `json:"to"`
	Role  string `json:"role"`
	Bytes int64  `json:"bytes"`
}

// eventView is one server-sent event's data.
type eventView struct {
	Type string         `json:"type"`
	At   int64          `json:"at"`
	Data map[string]any `json:"data"`
}
