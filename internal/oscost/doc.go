// Package oscost measures what the operating system charges for the
// system calls a message costs a node: a small write on a loopback TCP
// socket (read by the other end in the same process, as node links and
// local clients are) and an append synced with fdatasync (a group commit
// of the store's log). Multiplied by the calls per message that a node's
// /proc/<pid>/io and its commit metrics show, they give the floor under
// the CPU per message of the current design on a given machine; see
// docs/PERFORMANCE.md.
//
// It has benchmarks only and must never be imported.
package oscost
