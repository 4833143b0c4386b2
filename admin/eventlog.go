package admin

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

const (
	defaultLogPage = 1000
	maxLogPage     = 10_000
)

// logPage is GET /v1/events with Accept: application/json.
type logPage struct {
	Events  []shardgate.LogEntry `json:"events"`
	LastSeq uint64               `json:"last_seq"`
}

// logStart is the sequence number after which a stream replays the event
// log: Last-Event-ID (a reconnecting EventSource), else ?since=N, else
// ?tail=N (the last N entries), else the end of the log (live only).
func (s *Server) logStart(c echo.Context) (uint64, error) {
	if id := c.Request().Header.Get("Last-Event-ID"); id != "" {
		if v, err := strconv.ParseUint(id, 10, 64); err == nil {
			return v, nil
		}
	}
	if c.QueryParam("since") != "" {
		return queryUint(c, "since", 1<<63)
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	_, last, err := s.b.EventLog(ctx, ^uint64(0)-1, 1)
	if err != nil {
		return 0, err
	}
	tail, err := queryUint(c, "tail", maxLogPage)
	if err != nil {
		return 0, err
	}
	if c.QueryParam("tail") == "" && wantsJSON(c.Request()) {
		// A page without since or tail: the latest entries.
		if tail, err = queryUint(c, "limit", maxLogPage); err != nil {
			return 0, err
		}
		if tail == 0 {
			tail = defaultLogPage
		}
	}
	if tail >= last {
		return 0, nil
	}
	return last - tail, nil
}

// wantsJSON is true for a client that asks for JSON rather than a stream.
func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		t, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch t {
		case "text/event-stream":
			return false
		case "application/json":
			return true
		}
	}
	return false
}

// eventLogPage answers one page of the log as JSON: entries after since,
// at most ?limit (default 1000).
func (s *Server) eventLogPage(c echo.Context, since uint64) error {
	limit, err := queryUint(c, "limit", maxLogPage)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = defaultLogPage
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	entries, last, err := s.b.EventLog(ctx, since, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, logPage{Events: nonNil(entries), LastSeq: last})
}

// sendLog writes the log entries after since and returns the last sent.
func (s *Server) sendLog(ctx context.Context, sse *sseWriter, since uint64) (uint64, error) {
	for {
		c, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		entries, _, err := s.b.EventLog(c, since, 256)
		cancel()
		if err != nil {
			s.log.Debug("event log for the stream failed", "err", err)
			return since, nil
		}
		for _, e := range entries {
			data, err := json.Marshal(e)
			if err != nil {
				continue
			}
			if err := sse.raw("id: " + strconv.FormatUint(e.Seq, 10) + "\nevent: " + EventLog + "\ndata: " + string(data) + "\n\n"); err != nil {
				return since, err
			}
			since = e.Seq
		}
		if len(entries) < 256 {
			return since, nil
		}
	}
}
