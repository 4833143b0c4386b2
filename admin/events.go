package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

// SSE event types this package adds to the engine's own (member, table,
// migration, stats).
const (
	// EventSnapshot carries {"cluster": ClusterView, "partitions":
	// PartitionsView}: sent first on every stream and then every
	// snapshotEvery stats periods, so a client that missed events (the
	// engine drops them for slow subscribers) converges anyway.
	EventSnapshot = "snapshot"
	// EventStats carries the ClusterView.
	EventStats = "stats"
	// EventLog carries one entry of the durable event log
	// (shardgate.LogEntry, not wrapped in an Event), with the entry's
	// sequence number as the SSE id: a client that reconnects with
	// Last-Event-ID resumes after it.
	EventLog = "log"
)

const (
	snapshotEvery = 30               // stats periods between snapshots
	sseWriteWait  = 10 * time.Second // a client that cannot take a frame in this time is gone
	sseRetryMs    = 2000             // reconnect delay suggested to EventSource
)

// snapshot is the data of an EventSnapshot.
type snapshot struct {
	Cluster    shardgate.ClusterView    `json:"cluster"`
	Partitions shardgate.PartitionsView `json:"partitions"`
}

// events is GET /v1/events. Each event is written as
// "event: <type>\ndata: <the Event as JSON>\n\n"; the data is the whole
// Event ({"type", "at", "data"}) so a client keeps the engine's timestamp.
func (s *Server) events(c echo.Context) error {
	since, err := s.logStart(c)
	if err != nil {
		return err
	}
	if wantsJSON(c.Request()) {
		return s.eventLogPage(c, since)
	}
	// Subscribe before the first snapshot so nothing between the two is lost.
	ch, unsubscribe := s.b.Subscribe()
	defer unsubscribe()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no") // keep reverse proxies from buffering the stream
	w.WriteHeader(http.StatusOK)
	sse := &sseWriter{w: w, rc: http.NewResponseController(w)}

	ctx := c.Request().Context()
	if sse.raw(fmt.Sprintf("retry: %d\n\n", sseRetryMs)) != nil || s.sendSnapshot(ctx, sse) != nil {
		return nil
	}
	logWake := s.b.LogChanged()
	if since, err = s.sendLog(ctx, sse, since); err != nil {
		return nil
	}
	stats := time.NewTicker(s.cfg.StatsInterval)
	defer stats.Stop()
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()

	for ticks := 1; err == nil; {
		select {
		case <-ctx.Done():
			return nil
		case <-s.base.Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return nil // the engine closed the subscription
			}
			err = sse.event(ev)
		case <-logWake:
			logWake = s.b.LogChanged()
			since, err = s.sendLog(ctx, sse, since)
		case <-stats.C:
			if ticks%snapshotEvery == 0 {
				err = s.sendSnapshot(ctx, sse)
			} else {
				err = s.sendStats(ctx, sse)
			}
			ticks++
		case <-beat.C:
			err = sse.raw(": heartbeat\n\n")
		}
	}
	s.log.Debug("event stream ended", "err", err)
	return nil // the response is committed: nothing to report to the client
}

// sendStats emits the ClusterView; a failing Backend skips one period
// rather than ending the stream.
func (s *Server) sendStats(ctx context.Context, sse *sseWriter) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	cv, err := s.b.Cluster(ctx)
	if err != nil {
		s.log.Debug("stats for the event stream failed", "err", err)
		return nil
	}
	return sse.event(shardgate.Event{Type: EventStats, Data: normCluster(cv)})
}

func (s *Server) sendSnapshot(ctx context.Context, sse *sseWriter) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	cv, err := s.b.Cluster(ctx)
	if err != nil {
		s.log.Debug("snapshot for the event stream failed", "err", err)
		return nil
	}
	pv, err := s.b.Partitions(ctx)
	if err != nil {
		s.log.Debug("snapshot for the event stream failed", "err", err)
		return nil
	}
	return sse.event(shardgate.Event{Type: EventSnapshot, Data: snapshot{Cluster: normCluster(cv), Partitions: normPartitions(pv)}})
}

// sseWriter frames and flushes events, each write bounded by a deadline.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (w *sseWriter) event(ev shardgate.Event) error {
	if ev.At == 0 {
		ev.At = time.Now().UnixMilli()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		// One event the engine cannot encode should not end the stream.
		return w.raw(": an event could not be encoded\n\n")
	}
	return w.raw("event: " + eventName(ev.Type) + "\ndata: " + string(data) + "\n\n")
}

// eventName keeps a type usable as an SSE field: no line breaks, not empty.
func eventName(t string) string {
	t = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, t)
	if t == "" {
		return "message"
	}
	return t
}

func (w *sseWriter) raw(s string) error {
	// Deadlines are unsupported on some writers (httptest recorders); the
	// stream still works there, just without the bound.
	_ = w.rc.SetWriteDeadline(time.Now().Add(sseWriteWait))
	if _, err := w.w.Write([]byte(s)); err != nil {
		return err
	}
	return w.rc.Flush()
}
