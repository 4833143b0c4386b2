package cluster

import "errors"

var (
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("cluster: closed")

	// ErrPartitionMismatch is wrapped by the error Join returns when the
	// cluster it reached uses a different partition count: such nodes
	// refuse each other, and retrying cannot help.
	ErrPartitionMismatch = errors.New("nodes with different partition counts cannot form one cluster")

	// ErrNameTaken is wrapped by the error Join returns when a live node
	// of the cluster already uses this node's name with a data dir of its
	// own: two nodes configured with one name. Retrying cannot help.
	ErrNameTaken = errors.New("the node name is taken by another node")

	// ErrClusterMismatch is wrapped by the error Join returns when this
	// node's data dir holds messages of one cluster and the seeds belong to
	// another (Meta.Data): joining would replace this node's table by
	// theirs and its messages would be lost. Retrying cannot help.
	ErrClusterMismatch = errors.New("the node's data belongs to another cluster")

	// ErrMetaTooLarge is wrapped when node metadata does not fit in a
	// gossip message.
	ErrMetaTooLarge = errors.New("node metadata too large")
)
