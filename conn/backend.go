package conn

import (
	"context"
	"encoding/json"

	"github.com/shardgate/shardgate"
)

// Backend is what conn needs from the engine. Every method may be called
// concurrently from many connections. Errors should be *shardgate.Error: their
// Kind picks the JSON-RPC code and their Message is shown to the client.
// Methods taking a context must return promptly once it is cancelled.
type Backend interface {
	// Send stores data in to's inbox and returns once it is durable.
	Send(ctx context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error)
	// History returns key's messages with seq > since, oldest first.
	History(ctx context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error)
	// Ack stores key's read cursor.
	Ack(ctx context.Context, key string, seq uint64) error
	// Cursor returns key's read cursor, 0 if none was stored.
	Cursor(ctx context.Context, key string) (uint64, error)
	// Presence reports the cluster-wide presence of keys.
	Presence(ctx context.Context, keys []string) (map[string]shardgate.Presence, error)
	// Publish fans data out to topic's subscribers and returns how many
	// nodes it reached.
	Publish(ctx context.Context, from, topic string, data json.RawMessage) (int, error)
	// Attach registers one more local connection of key with the key's
	// home (presence and delivery routing) and returns what the welcome
	// frame needs. Detach undoes one successful Attach.
	Attach(ctx context.Context, key string) (shardgate.Attachment, error)
	Detach(key string)
	// TopicInterest tells the engine whether this node has any subscriber
	// of topic, so that publications elsewhere are fanned out to it. It is
	// called on the first subscriber and after the last one leaves, under
	// the Server's registry lock so that calls arrive in order: it must not
	// block nor call back into the Server.
	TopicInterest(topic string, interested bool)
}
