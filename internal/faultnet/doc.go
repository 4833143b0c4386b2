// Package faultnet is an in-memory network for memberlist failure tests.
//
// memberlist ships a MockNetwork, but it only suits happy paths: after a
// member shuts down the others still see it and goroutines block in
// WriteToAddress. faultnet keeps every operation non-blocking or bounded so
// that crashes, partitions and restarts can be played out, and it runs under
// testing/synctest, where minutes of gossip pass in a second of real time.
//
// Endpoints are addresses. A transport is created for an "ip:port" address,
// and memberlist sees that address as the node's gossip address. Rules
// (Cut, CutOneWay, Isolate) name either a full "ip:port" address, which
// matches exactly that endpoint, or a bare "ip", which matches every port on
// that host. Giving each test node its own IP (10.0.0.1, 10.0.0.2, …) lets
// one rule cut both the gossip transport and any other link layer that asks
// Allowed before it delivers.
//
// Semantics, chosen to look like a real network to memberlist:
//   - packets across a cut, to an unknown address or to a shut-down
//     transport vanish; WriteTo still reports success, as UDP would;
//   - a dial across a cut fails with a timeout after a short wait; a dial to
//     an address nobody listens on is refused at once;
//   - a new rule breaks the open streams it now forbids;
//   - a transport that was shut down fails its own writes and dials at once
//     and its streams are closed, as when a process dies.
//
// faultnet must never be used outside tests: it has no flow control beyond
// a bounded packet queue per transport, and it drops packets when that
// queue is full.
package faultnet
