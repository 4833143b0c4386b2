package node

// eventStore is what the event log needs of store/: a bounded, numbered
// list of entries. PutEvents blocks for an fsync; it is called with the
// event log's own lock held (appends are serialised) and never under the
// table's lock. Events and EventBounds only read.
type eventStore interface {
	PutEvents(first uint64, vals [][]byte, keep int) error
	Events(since uint64, limit int) ([]uint64, [][]byte, error)
	EventBounds() (first, last uint64, err error)
}
