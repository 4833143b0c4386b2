package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
)

// sseEvent is one server-sent event: its name and its data line(s).
type sseEvent struct {
	name string
	data []byte
}

// readSSE parses a text/event-stream into out until the stream ends;
// comments (heartbeats) and retry fields are skipped.
func readSSE(r io.Reader, out chan<- sseEvent) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxBody)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data != nil {
				out <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			d := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if ev.data != nil {
				ev.data = append(ev.data, '\n')
			}
			ev.data = append(ev.data, d...)
		}
	}
	return sc.Err()
}

// noisy events repeat state the other commands show; --all includes them.
var noisy = map[string]bool{"stats": true, "snapshot": true}

// eventsFlags are what events takes besides the common flags.
type eventsFlags struct {
	follow, all bool
	wait        time.Duration
	query       url.Values
}

func runEvents(ctx context.Context, s *session, args []string) error {
	fs := s.flags()
	var f eventsFlags
	fs.BoolVar(&f.follow, "follow", false, "keep printing new events until interrupted")
	since := fs.String("since", "", "start after this sequence number of the log (?since=)")
	tail := fs.String("tail", "", "start with the last N entries of the log (?tail=)")
	limit := fs.String("limit", "", "without --follow: at most N entries (?limit=)")
	fs.BoolVar(&f.all, "all", false, "include the periodic stats and snapshot events of the stream")
	fs.DurationVar(&f.wait, "wait", time.Second, "without --follow, on a server that can only stream: stop once the stream has been quiet this long")
	if _, err := s.parse(args, 0); err != nil {
		return err
	}
	if *since != "" && *tail != "" {
		// The server would start after --since and say nothing of --tail.
		return errors.New("--since and --tail both say where to start; give one (see 'shardgate ctl events -h')")
	}
	f.query = url.Values{}
	for name, v := range map[string]string{"since": *since, "tail": *tail, "limit": *limit} {
		if v == "" {
			continue
		}
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("--%s %q is not a number (see 'shardgate ctl events -h')", name, v)
		}
		f.query.Set(name, v)
	}
	if !f.follow {
		raw, ok, err := s.client.GetIfJSON(ctx, "/v1/events", f.query)
		if err != nil {
			return err
		}
		if ok {
			return printLogPage(s, raw)
		}
		// An older server only streams: read what it sends until it is quiet.
	}
	return streamEvents(ctx, s, f)
}

// streamEvents prints the server-sent events of /v1/events: until ctx
// ends with --follow, else until the stream has been quiet for f.wait.
func streamEvents(ctx context.Context, s *session, f eventsFlags) error {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := *s.client
	c.HTTP = &http.Client{Transport: s.client.HTTP.Transport} // no overall timeout on a stream
	body, err := c.Stream(streamCtx, "/v1/events", f.query)
	if err != nil {
		return err
	}
	evs := make(chan sseEvent)
	done := make(chan error, 1)
	go func() {
		defer close(evs)
		done <- readSSE(body, evs)
	}()
	defer func() {
		cancel()
		body.Close()
		for range evs { // let the reader finish
		}
	}()

	idle := time.NewTimer(f.wait)
	defer idle.Stop()
	var idleC <-chan time.Time
	if !f.follow {
		idleC = idle.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil // interrupted: the normal end of --follow
		case <-idleC:
			return nil
		case ev, ok := <-evs:
			if !ok {
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("the event stream broke: %w", err)
				}
				if f.follow {
					return errors.New("the server ended the event stream")
				}
				return nil
			}
			if noisy[ev.name] {
				if !f.all {
					continue
				}
			} else {
				idle.Reset(f.wait) // periodic events do not keep a one-shot read going
			}
			if err := printEvent(s, ev); err != nil {
				return err
			}
		}
	}
}

// logEntry is one entry of the durable event log.
type logEntry struct {
	Seq     uint64            `json:"seq"`
	At      int64             `json:"at"`
	Version uint64            `json:"version"`
	Type    string            `json:"type"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Node    string            `json:"node"`
	Shard   *int              `json:"shard"`
	Reason  string            `json:"reason"`
	Changes []json.RawMessage `json:"changes"`
	Moves   []json.RawMessage `json:"moves"`
}

// line is an entry on one line: #seq, time, type, then what, who and why.
func (e logEntry) line() string {
	parts := []string{}
	for _, p := range []string{e.Action, e.Node} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if e.Shard != nil {
		parts = append(parts, "shard "+strconv.Itoa(*e.Shard))
	}
	if e.Version > 0 {
		parts = append(parts, "table v"+strconv.FormatUint(e.Version, 10))
	}
	if e.Actor != "" {
		parts = append(parts, "by "+e.Actor)
	}
	if n := len(e.Changes); n > 0 {
		parts = append(parts, fmt.Sprintf("%d shard(s) changed", n))
	}
	if n := len(e.Moves); n > 0 {
		parts = append(parts, fmt.Sprintf("%d move(s)", n))
	}
	s := fmt.Sprintf("#%-6d %s  %-9s %s", e.Seq, clock(e.At), e.Type, strings.Join(parts, ", "))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// printLogPage prints GET /v1/events as JSON: {"events": [...], "last_seq"}.
func printLogPage(s *session, raw json.RawMessage) error {
	if s.json {
		return printJSON(s.env.Stdout, raw)
	}
	var page struct {
		Events  []logEntry `json:"events"`
		LastSeq uint64     `json:"last_seq"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return fmt.Errorf("GET /v1/events: unexpected answer: %w", err)
	}
	for _, e := range page.Events {
		fmt.Fprintln(s.env.Stdout, e.line())
	}
	fmt.Fprintf(s.env.Stdout, "(%d %s; the log is at #%d)\n", len(page.Events), map[bool]string{true: "entry", false: "entries"}[len(page.Events) == 1], page.LastSeq)
	return nil
}

// printEvent writes one event: its data as one JSON line with --json, or
// time, type and the data's fields.
func printEvent(s *session, ev sseEvent) error {
	w := s.env.Stdout
	if s.json {
		var buf bytes.Buffer
		if err := json.Compact(&buf, ev.data); err != nil {
			return fmt.Errorf("an event is not JSON: %w", err)
		}
		_, err := fmt.Fprintln(w, buf.String())
		return err
	}
	if ev.name == "log" {
		var e logEntry
		if err := json.Unmarshal(ev.data, &e); err == nil {
			_, err := fmt.Fprintln(w, e.line())
			return err
		}
	}
	var e shardgate.Event
	if err := json.Unmarshal(ev.data, &e); err != nil || e.Type == "" {
		_, err := fmt.Fprintf(w, "%s %s\n", ev.name, firstLine(ev.data))
		return err
	}
	_, err := fmt.Fprintf(w, "%s  %-10s %s\n", clock(e.At), e.Type, fields(e.Data))
	return err
}

// fields flattens an event's data object to key=value pairs, sorted;
// lists and objects show their size.
func fields(data any) string {
	m, _ := data.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		var v string
		switch x := m[k].(type) {
		case nil:
			continue
		case string:
			v = x
			if strings.ContainsAny(v, " \t") {
				v = strconv.Quote(v)
			}
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		case []any:
			v = fmt.Sprintf("[%d]", len(x))
		case map[string]any:
			v = fmt.Sprintf("{%d}", len(x))
		default:
			v = fmt.Sprint(x)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}
