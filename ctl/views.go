package ctl

import "github.com/shardgate/shardgate"

// ctl reads the admin API into the same types the server writes
// (the root package); a field the server adds later is ignored by the
// tables and still printed by --json, which passes answers through.

// historyView is GET /v1/partitions/{id}/history.
type historyView struct {
	Shard   int                         `json:"shard"`
	History []shardgate.OwnershipChange `json:"history"`
}
