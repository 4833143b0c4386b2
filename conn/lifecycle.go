package conn

import (
	"context"
	"time"

	"github.com/gorilla/websocket"
)

// pingBuckets spreads each round of pings over the interval, so a node with
// 100k idle connections wakes a few thousand writers at a time rather than
// all of them at once.
const pingBuckets = 16

// pingLoop is the one goroutine that pings every connection (connection c
// in bucket c.id%pingBuckets) and closes those whose token has expired.
func (s *Server) pingLoop() {
	t := time.NewTicker(max(s.cfg.PingInterval/pingBuckets, time.Millisecond))
	defer t.Stop()
	for bucket := uint64(0); ; bucket = (bucket + 1) % pingBuckets {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := s.auth.now()
		for _, c := range s.bucket(bucket) {
			if c.claims.expired(now) {
				c.closeWith(closeUnauthorized, reasonExpired, true)
				continue
			}
			c.enqueue(frame{kind: framePing})
		}
	}
}

func (s *Server) bucket(b uint64) []*conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*conn
	for c := range s.conns {
		if c.id%pingBuckets == b {
			out = append(out, c)
		}
	}
	return out
}

// Shutdown refuses new connections, sends every connection a moved hint
// (when movedURL gives a URL for its key) and closes it with 1001, then waits
// for all of the server's goroutines. If ctx ends first, the remaining
// connections are cut without a close frame; Shutdown still waits for their
// goroutines (which then end at once) and returns ctx's error. Calling it
// again waits again.
func (s *Server) Shutdown(ctx context.Context, movedURL func(key string) string) error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if first {
		close(s.stop)
		for _, c := range conns {
			if movedURL != nil {
				if url := movedURL(c.key); url != "" {
					if b, err := encodeNotification("moved", movedParams{URL: url, Reason: "node shutting down"}); err == nil {
						c.enqueueNotice(b)
					}
				}
			}
			c.closeWith(websocket.CloseGoingAway, "node shutting down", true)
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	for _, c := range conns {
		c.ws.NetConn().Close()
	}
	<-done
	return ctx.Err()
}
