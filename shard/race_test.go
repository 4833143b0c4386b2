//go:build race

package shard

// raceEnabled thins the slowest loops: the race detector slows consistent's
// ring building about thirteenfold and this package starts no goroutines
// for it to watch.
const raceEnabled = true
