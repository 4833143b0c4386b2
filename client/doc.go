// Package client is the Go SDK of the shardgate client protocol
// (docs/PROTOCOL.md).
//
// Client is what an application uses: it keeps one key connected for as
// long as it lives. It asks a node where the key lives and connects there
// (any node when the home cannot be reached: nodes forward), reconnects
// with exponential backoff and full jitter when the connection ends,
// resumes the inbox after the last seq it received, follows moved hints
// when no call is under way, resubscribes its topics, and retries sends
// with the same idempotency id, so that every acknowledged message reaches
// Messages once and in order with no reconnect code in the application.
// A connection that stays silent for Config.IdleTimeout (nodes ping every
// 30 s) is given up too, so a node that vanished without closing (a
// crashed host, a partition) is noticed.
//
// Slow applications: Messages is fed from a receive buffer of
// Config.Buffer messages. When the application lets it fill up, the client
// keeps reading the connection (so calls keep being answered and the node
// never closes it as a slow consumer) but drops new inbox messages, and
// reads them back with history calls once the application has made room.
// Nothing is lost and memory stays bounded; a slow application costs
// history reads. Publications are live and at most once: those that find
// their buffer (Config.PublicationBuffer) full are dropped and counted in
// Stats.
//
// Errors: *RPCError is an error the server answered (Retryable says
// whether trying again may help); ErrClosed means a connection ended;
// ErrClientClosed that Close was called. A refusal that retrying cannot
// fix (errors.Is(err, shardgate.ErrUnauthorized) or ErrForbidden) stops
// the client: Connect returns it, and Err reports it after Done is closed.
//
// Conn is the lower level: one connection, no reconnects, notifications
// on channels. Its reader never drops a notification: when a channel is
// full it waits, the node's send queue grows, and a client that stays
// behind is closed by the node with 4009. Tools that want to see exactly
// what the node does (the bench, the chaos workload) use it.
//
// The package depends only on the module's domain types, so tools can use
// it without pulling in the node.
package client
