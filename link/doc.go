// Package link carries authenticated request/response calls and one-way
// notifications between the nodes of a shardgate cluster, over
// gorilla/websocket.
//
// It owns the node-to-node connections (TLS 1.3 with certificates that
// chain to a cluster CA, derived from the cluster key by ClusterTLS or read
// from files by FileTLS): one outbound connection per peer,
// dialed lazily and re-dialed with backoff; the acceptor side mounted by the
// caller on the public listener; the HMAC handshake that keeps strangers off
// it (bound to both names, a time and a nonce, and open only to members); and batching, so that everything queued for a peer while the previous
// frame was being written leaves in the next single WebSocket frame.
//
// Two codecs, agreed per connection in the handshake: version 2 frames are
// binary (length-prefixed envelopes, binframe.go), and a body or result
// whose Go value implements wire.Appender travels in its binary form
// (link/wire), any other as JSON; version 1 (a JSON array of JSON
// envelopes, frame.go) is kept for nodes that predate version 2, which are
// not refused: both ends fall back to it (codec.go).
//
// It must never know what the calls mean: methods are opaque strings, bodies
// and results opaque bytes (JSON or a binary form; wire.Decode reads both),
// and the Handler supplied by the caller gives them their meaning. Nothing
// here imports another shardgate package except the root one, for the
// error type that crosses the wire, and link/wire.
//
// Failure model: anything that keeps an answer from arriving (dial failure,
// closed connection, full queue, timeout, cancellation) is reported as
// shardgate.KindUnavailable so callers may retry; an error returned by the
// remote Handler keeps its Kind and Message. An envelope that cannot be
// decoded (malformed, of a wrong length, or a JSON body nested deeper than
// maxBodyDepth) fails only its own call: a request is answered with
// KindInvalid without its handler running, and a caller whose answer is
// unreadable gets KindInternal. No frame ever closes a connection.
package link
