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

func runEvents(ctx context.Context, s *session, args []string) error {
	fs := s.flags()
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	since := fs.String("since", "", "replay the log after this sequence number (passed as ?since=)")
	all := fs.Bool("all", false, "include the periodic stats and snapshot events")
	wait := fs.Duration("wait", time.Second, "without --follow: stop once the stream has been quiet this long")
	if _, err := s.parse(args, 0); err != nil {
		return err
	}
	q := url.Values{}
	if *since != "" {
		q.Set("since", *since)
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := *s.client
	c.HTTP = &http.Client{Transport: s.client.HTTP.Transport} // no overall timeout on a stream
	body, err := c.Stream(streamCtx, "/v1/events", q)
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

	idle := time.NewTimer(*wait)
	defer idle.Stop()
	var idleC <-chan time.Time
	if !*follow {
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
				if *follow {
					return errors.New("the server ended the event stream")
				}
				return nil
			}
			if noisy[ev.name] {
				if !*all {
					continue
				}
			} else {
				idle.Reset(*wait) // periodic events do not keep a one-shot read going
			}
			if err := printEvent(s, ev); err != nil {
				return err
			}
		}
	}
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
	var e eventView
	if err := json.Unmarshal(ev.data, &e); err != nil || e.Type == "" {
		_, err := fmt.Fprintf(w, "%s %s\n", ev.name, firstLine(ev.data))
		return err
	}
	_, err := fmt.Fprintf(w, "%s  %-10s %s\n", clock(e.At), e.Type, fields(e.Data))
	return err
}

// fields flattens an event's data to key=value pairs, sorted; lists and
// objects show their size.
func fields(m map[string]any) string {
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
