// Package inflight bounds work in progress by count and by bytes: the
// requests one client connection has read and not yet answered, the sends
// a node has taken in and not yet answered. A bound that is reached makes
// the caller refuse at once (1002, HTTP 429) instead of queueing, so the
// latency of what is accepted stays bounded however much is offered.
//
// It only counts; it never blocks, sleeps or starts goroutines.
package inflight
