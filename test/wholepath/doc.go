// Package wholepath holds the fuzz target that drives untrusted input along
// the whole path a message takes: a client frame into the WebSocket
// endpoint (conn), across a node link (link) to the key's home, into the
// store, and back out through history. It checks the guarantees of docs/PROTOCOL.md
// end to end: a frame is either refused with a clear error and changes
// nothing, or stored and read back equal to what was sent; no input panics
// a node, closes a node link or makes a key unreadable.
//
// It has no code of its own outside tests.
package wholepath
