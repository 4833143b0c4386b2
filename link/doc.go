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
// It must never know what the calls mean: methods are opaque strings, bodies
// and results opaque JSON, and the Handler supplied by the caller gives them
// their meaning. Nothing here imports another shardgate package except the
// root one, for the error type that crosses the wire.
//
// Failure model: anything that keeps an answer from arriving (dial failure,
// closed connection, full queue, timeout, cancellation) is reported as
// shardgate.KindUnavailable so callers may retry; an error returned by the
// remote Handler keeps its Kind and Message. An envelope that cannot be
// decoded (malformed, or nested deeper than encoding/json accepts) fails
// only its own call: a request is answered with KindInvalid without its
// handler running, and a caller whose answer is unreadable gets
// KindInternal. No frame ever closes a connection.
package link
