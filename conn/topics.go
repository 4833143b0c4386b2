package conn

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// Topic limits: a topic is named like a key, and one connection may hold
// only so many subscriptions, so a client cannot grow the node's maps
// without bound.
const (
	maxTopicBytes    = 256
	maxTopicsPerConn = 256
)

func validTopic(t string) error {
	switch {
	case t == "":
		return invalidParams("params.topic is required")
	case len(t) > maxTopicBytes:
		return invalidParams(fmt.Sprintf("params.topic is %d bytes, the limit is %d", len(t), maxTopicBytes))
	case !utf8.ValidString(t):
		return invalidParams("params.topic is not valid UTF-8")
	}
	return nil
}

// subscribe adds c to topic's local subscribers; the first one makes the
// node interested in the topic cluster-wide. It and unsubscribe run on c's
// reader, like finish, so they never race with c's own clean-up.
// TopicInterest is called under s.mu so that the engine sees interest
// changes in the order they happened.
func (s *Server) subscribe(c *conn, topic string) error {
	c.mu.Lock()
	if _, ok := c.topics[topic]; ok {
		c.mu.Unlock()
		return nil
	}
	if len(c.topics) >= maxTopicsPerConn {
		c.mu.Unlock()
		return shardgate.Errorf(shardgate.KindTooLarge, "this connection already has %d subscriptions, the limit", maxTopicsPerConn)
	}
	if c.closed {
		c.mu.Unlock()
		return shardgate.Errorf(shardgate.KindUnavailable, "connection is closing")
	}
	if c.topics == nil {
		c.topics = make(map[string]struct{})
	}
	c.topics[topic] = struct{}{}
	c.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.topics[topic]) == 0 {
		s.backend.TopicInterest(topic, true)
	}
	s.topics[topic] = append(slices.Clip(s.topics[topic]), c)
	return nil
}

// unsubscribe removes c from topic; the last one out ends the interest.
func (s *Server) unsubscribe(c *conn, topic string) {
	c.mu.Lock()
	_, ok := c.topics[topic]
	delete(c.topics, topic)
	c.mu.Unlock()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rest := without(s.topics[topic], c); len(rest) > 0 {
		s.topics[topic] = rest
	} else {
		delete(s.topics, topic)
		s.backend.TopicInterest(topic, false)
	}
}

// DeliverPublication queues p to every local subscriber of its topic and
// returns how many it reached. The frame is encoded once for all of them.
func (s *Server) DeliverPublication(p shardgate.Publication) int {
	s.mu.RLock()
	subs := s.topics[p.Topic]
	s.mu.RUnlock()
	if len(subs) == 0 {
		return 0
	}
	b, err := encodeNotification("publication", p)
	if err != nil {
		s.log.Warn("cannot encode publication", "topic", p.Topic, "err", err)
		return 0
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range subs {
		c.mu.Lock()
		ok := c.ready && c.enqueueLocked(frame{kind: framePrepared, pm: pm, data: b})
		c.mu.Unlock()
		if ok {
			n++
		}
	}
	s.m.PublicationsOut.Add(float64(n))
	return n
}
