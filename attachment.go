package shardgate

// Attachment is what a key's home reports when a client connection of that
// key attaches: what the connection's welcome frame tells the client.
type Attachment struct {
	Node    string // node named in the welcome frame; empty means the node serving the connection
	Shard   int    // the key's shard
	LastSeq uint64 // highest seq in the key's inbox at attach time
	// FirstSeq is the lowest seq retention still keeps (1 when nothing was
	// removed; 0 is read as 1).
	FirstSeq uint64
}
