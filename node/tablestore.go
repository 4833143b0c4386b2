package node

// tableStore is what the table part needs of store/: one persisted value.
// It is called by whichever goroutine installs a table (a link handler, the
// coordinator, the member loop), never under a lock a reader of the table
// takes; PutMeta blocks for an fsync.
type tableStore interface {
	GetMeta(key string) ([]byte, error)
	PutMeta(key string, val []byte) error
}
