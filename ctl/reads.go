package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate"
)

// get fetches path into v and returns the raw answer too.
func (s *session) get(ctx context.Context, path string, q url.Values, v any) (json.RawMessage, error) {
	raw, err := s.client.Do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return nil, fmt.Errorf("GET %s: unexpected answer: %w", path, err)
		}
	}
	return raw, nil
}

// statusJSON is `ctl status --json`: ctl's own summary of /v1/cluster and
// /v1/partitions.
type statusJSON struct {
	Version     uint64         `json:"version"`
	Partitions  int            `json:"partitions"`
	Backups     int            `json:"backups"`
	Coordinator string         `json:"coordinator"`
	Quorum      *bool          `json:"quorum,omitempty"`
	Nodes       map[string]int `json:"nodes"`               // state → count
	DiskFull    []string       `json:"disk_full,omitempty"` // nodes refusing writes for lack of space
	Shards      shardCounts    `json:"shards"`              // by state
}

type shardCounts struct {
	Total           int `json:"total"`
	Stable          int `json:"stable"`
	Migrating       int `json:"migrating"`
	UnderReplicated int `json:"under_replicated"`
	Unowned         int `json:"unowned"`
	// FewCopies counts shards with fewer copies than --backups asks for
	// because the table has too few members to hold them: not counted as
	// under-replicated, since no node is there to take a copy.
	FewCopies int `json:"fewer_copies_than_wanted,omitempty"`
}

func countShards(pv shardgate.PartitionsView, backups int) shardCounts {
	c := shardCounts{Total: len(pv.Partitions)}
	for _, p := range pv.Partitions {
		if p.Owner != "" && 1+len(p.Backups) < 1+backups && !p.UnderReplicated {
			c.FewCopies++
		}
		if p.State == "migrating" {
			c.Migrating++
		} else {
			c.Stable++
		}
		if p.UnderReplicated {
			c.UnderReplicated++
		}
		if p.Owner == "" || p.HomeDown {
			c.Unowned++
		}
	}
	return c
}

func runStatus(ctx context.Context, s *session, args []string) error {
	s.flags()
	if _, err := s.parse(args, 0); err != nil {
		return err
	}
	var cv shardgate.ClusterView
	if _, err := s.get(ctx, "/v1/cluster", nil, &cv); err != nil {
		return err
	}
	var pv shardgate.PartitionsView
	if _, err := s.get(ctx, "/v1/partitions", nil, &pv); err != nil {
		return err
	}
	st := statusJSON{Version: cv.Version, Partitions: cv.Partitions, Backups: cv.Backups, Coordinator: cv.Coordinator,
		Quorum: &cv.Quorum, Nodes: map[string]int{}, Shards: countShards(pv, cv.Backups)}
	for _, n := range cv.Nodes {
		st.Nodes[n.State]++
		if n.DiskFull {
			st.DiskFull = append(st.DiskFull, n.Name)
		}
	}
	if s.json {
		return encodeJSON(s.env.Stdout, st)
	}
	w := s.env.Stdout
	quorum := "unknown"
	if st.Quorum != nil {
		quorum = yesNo(*st.Quorum)
	}
	fmt.Fprintf(w, "cluster  table version %d, %d shards with %d backup(s) each, coordinator %s, quorum %s\n",
		st.Version, st.Partitions, st.Backups, orDash(st.Coordinator), quorum)
	states := make([]string, 0, len(st.Nodes))
	for k := range st.Nodes {
		states = append(states, k)
	}
	sort.Strings(states)
	fmt.Fprintf(w, "nodes    %d:", len(cv.Nodes))
	for _, k := range states {
		fmt.Fprintf(w, " %d %s", st.Nodes[k], k)
	}
	if len(st.DiskFull) > 0 {
		fmt.Fprintf(w, "; disk full, refusing writes: %s", strings.Join(st.DiskFull, ", "))
	}
	fmt.Fprintf(w, "\nshards   %d stable, %d migrating, %d under-replicated, %d without a live home\n",
		st.Shards.Stable, st.Shards.Migrating, st.Shards.UnderReplicated, st.Shards.Unowned)
	if n := st.Shards.FewCopies; n > 0 {
		verb := "s hold"
		if n == 1 {
			verb = " holds"
		}
		fmt.Fprintf(w, "warning  %d shard%s fewer than the %d copies --backups %d asks for: the table has too few members (add nodes)\n",
			n, verb, st.Backups+1, st.Backups)
	}
	return nil
}

func runNodes(ctx context.Context, s *session, args []string) error {
	s.flags()
	if _, err := s.parse(args, 0); err != nil {
		return err
	}
	var cv shardgate.ClusterView
	raw, err := s.get(ctx, "/v1/cluster", nil, &cv)
	if err != nil || s.json {
		return jsonOr(s, raw, err)
	}
	t := newTable(s.env.Stdout, "NAME", "STATE", "COORD", "OWNED", "BACKUPS", "CONNS", "MSG/S", "MEMORY", "ADMIN", "WEBSOCKET")
	for _, n := range cv.Nodes {
		coord := ""
		if n.Coordinator {
			coord = "*"
		}
		state := n.State
		if n.FailedOver {
			state += " (failed over)"
		}
		if n.AuthDiffers {
			// Tokens this node accepts, that one refuses (or the reverse).
			state += " (tokens differ)"
		}
		if n.DiskFull {
			state += " (disk full)"
		}
		t.row(n.Name, state, coord, strconv.Itoa(n.Owned), strconv.Itoa(n.BackedUp), strconv.Itoa(n.Connections),
			strconv.FormatFloat(n.MessagesPerSec, 'f', 1, 64), humanBytes(int64(n.MemoryBytes)), orDash(n.AdminURL), orDash(n.WSURL))
	}
	return t.flush()
}

// jsonOr prints raw when --json was asked for, or passes err on.
func jsonOr(s *session, raw json.RawMessage, err error) error {
	if err != nil {
		return err
	}
	return printJSON(s.env.Stdout, raw)
}

func runPartitions(ctx context.Context, s *session, args []string) error {
	fs := s.flags()
	showMap := fs.Bool("map", false, "list the shards each node owns and backs up")
	if _, err := s.parse(args, 0); err != nil {
		return err
	}
	var pv shardgate.PartitionsView
	raw, err := s.get(ctx, "/v1/partitions", nil, &pv)
	if err != nil || s.json {
		return jsonOr(s, raw, err)
	}
	type load struct {
		owned, backups, migrating []int
		messages, bytes           int64
	}
	by := map[string]*load{}
	at := func(name string) *load {
		if by[name] == nil {
			by[name] = &load{}
		}
		return by[name]
	}
	for _, p := range pv.Partitions {
		o := at(orDash(p.Owner))
		o.owned = append(o.owned, p.ID)
		o.messages += p.Messages
		o.bytes += p.Bytes
		if p.State == "migrating" {
			o.migrating = append(o.migrating, p.ID)
		}
		for _, b := range p.Backups {
			at(b).backups = append(at(b).backups, p.ID)
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	c := countShards(pv, 0)
	fmt.Fprintf(s.env.Stdout, "table version %d: %d shards, %d stable, %d migrating, %d under-replicated\n\n",
		pv.Version, c.Total, c.Stable, c.Migrating, c.UnderReplicated)
	if *showMap {
		for _, n := range names {
			l := by[n]
			fmt.Fprintf(s.env.Stdout, "%s\n  owns     %s\n  backs up %s\n", n, ranges(l.owned), ranges(l.backups))
			if len(l.migrating) > 0 {
				fmt.Fprintf(s.env.Stdout, "  migrating %s\n", ranges(l.migrating))
			}
		}
		return nil
	}
	t := newTable(s.env.Stdout, "NODE", "OWNED", "SHARE", "BACKUPS", "MIGRATING", "MESSAGES", "BYTES")
	for _, n := range names {
		l := by[n]
		share := "-"
		if c.Total > 0 {
			share = fmt.Sprintf("%.1f%%", 100*float64(len(l.owned))/float64(c.Total))
		}
		t.row(n, strconv.Itoa(len(l.owned)), share, strconv.Itoa(len(l.backups)), strconv.Itoa(len(l.migrating)),
			strconv.FormatInt(l.messages, 10), humanBytes(l.bytes))
	}
	return t.flush()
}

func runRoute(ctx context.Context, s *session, args []string) error {
	s.flags()
	pos, err := s.parse(args, 1)
	if err != nil {
		return err
	}
	var r shardgate.Route
	raw, err := s.get(ctx, "/v1/route", url.Values{"key": {pos[0]}}, &r)
	if err != nil || s.json {
		return jsonOr(s, raw, err)
	}
	t := newTable(s.env.Stdout, "KEY", "SHARD", "OWNER", "BACKUPS", "WEBSOCKET", "VERSION")
	t.row(r.Key, strconv.Itoa(r.Shard), orDash(r.Owner), list(r.Backups), orDash(r.WSURL), strconv.FormatUint(r.Version, 10))
	return t.flush()
}

func runHistory(ctx context.Context, s *session, args []string) error {
	s.flags()
	id, err := s.parseShard(args)
	if err != nil {
		return err
	}
	var h historyView
	raw, err := s.get(ctx, "/v1/partitions/"+strconv.Itoa(id)+"/history", nil, &h)
	if err != nil || s.json {
		return jsonOr(s, raw, err)
	}
	if len(h.History) == 0 {
		fmt.Fprintf(s.env.Stdout, "shard %d: no ownership changes recorded\n", id)
		return nil
	}
	t := newTable(s.env.Stdout, "AT", "VERSION", "FROM", "TO", "BACKUPS", "REASON")
	for _, c := range h.History {
		t.row(clock(c.At), strconv.FormatUint(c.Version, 10), orDash(c.From), orDash(c.To), list(c.Backups), orDash(c.Reason))
	}
	return t.flush()
}

// parseShard parses the flags and the one positional SHARD argument.
func (s *session) parseShard(args []string) (int, error) {
	pos, err := s.parse(args, 1)
	if err != nil {
		return 0, err
	}
	id, err := strconv.Atoi(pos[0])
	if err != nil || id < 0 {
		return 0, fmt.Errorf("SHARD %q is not a shard number (see 'shardgate ctl %s -h')", pos[0], s.cmd.name)
	}
	return id, nil
}
