// Package integration holds the end-to-end tests of shardgate: whole nodes
// in one process (the in-process tier), real node processes killed with
// SIGKILL (the process tier, files with the `chaos` build tag) and the
// compose tier.
package integration
