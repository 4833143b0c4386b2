// Package conn is the client WebSocket endpoint of a shardgate node,
// GET /v1/ws (docs/PROTOCOL.md): authentication, JSON-RPC 2.0 framing, per-connection
// rate limits and send queues, topic subscriptions, and per-key ordered
// delivery with de-duplication and gap filling.
//
// It owns connections and nothing else. Every durable fact (inboxes,
// cursors, presence, where a key lives) belongs to the engine, reached
// through the Backend interface; the engine hands deliveries back through
// the Server's Deliver, DeliverPublication and Moved methods. conn must never
// store anything, and must never block the engine: every delivery is queued
// without waiting, and a connection that cannot keep up is closed with 4009.
//
// Goroutines, per connection: one reader (started when the handshake is
// done, so net/http's per-request state is released), a handler that
// exists only while requests are queued, a writer that exists only while
// frames are queued, and a gap filler that exists only while the
// connection is catching up from history. The reader never waits for the
// engine: it admits a request to the handler's queue, bounded per
// connection and per node in requests and bytes, or answers 1002 at once. An idle connection therefore parks
// a single goroutine: about 8 KB per idle connection in all, measured by
// BenchmarkIdleConnMemory. One shared ticker sends pings to all connections.
// Shutdown waits for every one of these goroutines.
//
// Every frame, pings included, is written by the writer under a write
// deadline, with three exceptions that gorilla/websocket serialises with it:
// the echo of a client's close frame (the reader ends right after), the 1009
// close gorilla sends itself when a frame is over the read limit, and the
// close of a connection refused before it was registered.
package conn
