package ctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shardgate/shardgate"
)

// actionFlags are the flags every action takes.
type actionFlags struct {
	dryRun bool
	force  bool
	reason string
	// title names the action in the plan's first line when the answer's
	// action and node do not say enough ("move shard 17 to n2").
	title string
}

func (a *actionFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&a.dryRun, "dry-run", false, "ask for the plan only (dry_run): nothing changes")
	fs.BoolVar(&a.force, "force", false, "carry out an action the server's safety checks refuse")
	fs.StringVar(&a.reason, "reason", "", "why, recorded in the event log")
}

// query carries the flags the way docs/PROTOCOL.md takes them: ?dry_run=1.
func (a *actionFlags) query() url.Values {
	q := url.Values{}
	if a.dryRun {
		q.Set("dry_run", "1")
	}
	if a.force {
		q.Set("force", "1")
	}
	if a.reason != "" {
		q.Set("reason", a.reason)
	}
	return q
}

// actionCmd is drain, failover and readmit (POST /v1/nodes/NODE/ACTION)
// and rebalance (POST /v1/rebalance).
func actionCmd(action string) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		var a actionFlags
		a.register(s.flags())
		npos := 1
		if action == "rebalance" {
			npos = 0
		}
		pos, err := s.parse(args, npos)
		if err != nil {
			return err
		}
		path := "/v1/rebalance"
		if npos == 1 {
			path = "/v1/nodes/" + url.PathEscape(pos[0]) + "/" + action
		}
		return s.act(ctx, path, a, nil)
	}
}

func runMove(ctx context.Context, s *session, args []string) error {
	var a actionFlags
	fs := s.flags()
	a.register(fs)
	to := fs.String("to", "", "the node that becomes the shard's home")
	id, err := s.parseShard(args)
	if err != nil {
		return err
	}
	if *to == "" {
		return fmt.Errorf("--to NODE is required (see 'shardgate ctl move -h')")
	}
	a.title = fmt.Sprintf("move shard %d to %s", id, *to)
	return s.act(ctx, "/v1/partitions/"+strconv.Itoa(id)+"/move", a, map[string]string{"to": *to})
}

// act posts an action and prints the plan the server answers with.
func (s *session) act(ctx context.Context, path string, a actionFlags, body any) error {
	raw, err := s.client.Do(ctx, http.MethodPost, path, a.query(), body)
	if err != nil || s.json {
		return jsonOr(s, raw, err)
	}
	var p shardgate.MoveReport
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("POST %s: unexpected answer: %w", path, err)
	}
	printPlan(s, p, a.dryRun, a.title)
	return nil
}

func printPlan(s *session, p shardgate.MoveReport, asked bool, title string) {
	w := s.env.Stdout
	what := title
	if what == "" {
		what = p.Action
		if what == "" {
			what = s.cmd.name
		}
		if p.Node != "" {
			what += " " + p.Node
		}
	}
	switch {
	case p.DryRun:
		what += " (dry run: nothing changed)"
	case asked:
		// The server did not say it honoured dry_run: say so rather than
		// let the operator believe nothing happened.
		what += " (the server did not confirm a dry run: this may have been carried out)"
	}
	fmt.Fprintf(w, "%s, from table version %d\n", what, p.Version)
	if p.Summary != "" {
		fmt.Fprintln(w, p.Summary)
	}
	if p.Forced {
		fmt.Fprintf(w, "forced past: %s\n", orDash(p.Refusal))
	}
	if len(p.Moves) == 0 {
		fmt.Fprintln(w, "no shard moves")
		return
	}
	var total int64
	for _, m := range p.Moves {
		total += m.Bytes
	}
	if p.Bytes > total {
		total = p.Bytes
	}
	moves := fmt.Sprintf("%d move", len(p.Moves))
	if len(p.Moves) != 1 {
		moves += "s"
	}
	if p.Summary == "" {
		line := fmt.Sprintf("%s, %s to copy", moves, humanBytes(total))
		if p.EstimateMS > 0 {
			line += ", about " + (time.Duration(p.EstimateMS) * time.Millisecond).Round(100*time.Millisecond).String()
		}
		fmt.Fprintln(w, line)
	} else { // the server's summary already gives the bytes and the time
		fmt.Fprintln(w, moves)
	}
	t := newTable(w, "SHARD", "ROLE", "FROM", "TO", "BYTES")
	for _, m := range p.Moves {
		t.row(strconv.Itoa(m.Shard), orDash(m.Role), orDash(m.From), orDash(m.To), humanBytes(m.Bytes))
	}
	_ = t.flush()
}
