package conn

import (
	"context"
	"time"
)

// InterestWaiter is implemented by backends whose other nodes learn of a
// new topic subscription asynchronously (node.Node's topic interest
// summaries). A subscribe is answered only after AwaitTopicInterest
// returns, so a publication made anywhere after the client saw the answer
// is sent to this node. It must return by itself within a bounded time.
type InterestWaiter interface {
	AwaitTopicInterest(ctx context.Context, topic string)
}

// interestWaitCap bounds the wait whatever the backend does: a subscribe
// runs on the connection's reader.
const interestWaitCap = 5 * time.Second

// awaitInterest lets the backend spread a new subscription before it is
// answered.
func (s *Server) awaitInterest(topic string) {
	w, ok := s.backend.(InterestWaiter)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), interestWaitCap)
	defer cancel()
	w.AwaitTopicInterest(ctx, topic)
}
