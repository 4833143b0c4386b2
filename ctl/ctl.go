package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrHelp is returned after a command printed its help because of -h.
var ErrHelp = errors.New("help printed")

// Env is what ctl needs from the program around it.
type Env struct {
	Stdout io.Writer
	// Register adds the connection flags (--admin-url, --admin-token, …)
	// to a command's flag set, so they work before or after the command.
	Register func(*flag.FlagSet)
	// Resolve turns those flags, the environment and the defaults into the
	// connection settings, once every flag set has been parsed.
	Resolve func() (Conn, error)
	// ConnHelp describes the connection flags and their variables.
	ConnHelp func(io.Writer)
}

// Conn says where the admin API is.
type Conn struct {
	URL     string
	Token   string
	Timeout time.Duration // per request; streams are not bounded
	Actor   string        // who acts, for the event log ("" sends none)
}

// command is one verb of `shardgate ctl`.
type command struct {
	name, args, help string
	run              func(ctx context.Context, s *session, args []string) error
}

var commands = []command{
	{"status", "", "the cluster in three lines: table version, nodes by state, shards by state", runStatus},
	{"nodes", "", "every node: state, shards owned and backed up, load, addresses", runNodes},
	{"partitions", "[--map]", "shards per node; --map lists which shards each node owns", runPartitions},
	{"route", "KEY", "where a key lives: shard, home, backups, WebSocket URL", runRoute},
	{"history", "SHARD", "why a shard moved: its ownership changes", runHistory},
	{"events", "[--follow] [--since N] [--tail N]", "the cluster's event log (membership, table, migrations, actions)", runEvents},
	{"drain", "NODE [--dry-run]", "move every shard off NODE, then it leaves", actionCmd("drain")},
	{"failover", "NODE [--dry-run]", "treat NODE as failed now: promote its backups", actionCmd("failover")},
	{"readmit", "NODE [--dry-run]", "undo a failover or drain of a node that is still alive", actionCmd("readmit")},
	{"remove", "NODE [--dry-run]", "stop listing a dead node (it is kept as dead until removed)", actionCmd("remove")},
	{"move", "SHARD --to NODE [--dry-run]", "give SHARD a new home", runMove},
	{"rebalance", "[--dry-run]", "recompute the table and start the moves it implies", actionCmd("rebalance")},
}

// Run runs `shardgate ctl ARGS…`.
func Run(ctx context.Context, env Env, args []string) error {
	global := flag.NewFlagSet("shardgate ctl", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	env.Register(global)
	// --json and --dry-run may also come before the command; they are
	// handed to it, which refuses --dry-run if it is not an action.
	var asJSON, dryRun bool
	global.BoolVar(&asJSON, "json", false, "")
	global.BoolVar(&dryRun, "dry-run", false, "")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(env)
			return ErrHelp
		}
		return fmt.Errorf("%w (see 'shardgate ctl -h')", err)
	}
	args = global.Args()
	if len(args) == 0 || args[0] == "help" {
		usage(env)
		if len(args) == 0 {
			return errors.New("ctl needs a command (see 'shardgate ctl -h')")
		}
		return ErrHelp
	}
	rest := args[1:]
	if dryRun {
		rest = append([]string{"--dry-run"}, rest...)
	}
	if asJSON {
		rest = append([]string{"--json"}, rest...)
	}
	for _, c := range commands {
		if c.name == args[0] {
			s := &session{env: env, cmd: c}
			if err := c.run(ctx, s, rest); err != nil && !errors.Is(err, ErrHelp) {
				return fmt.Errorf("ctl %s: %w", c.name, err)
			} else if err != nil {
				return err
			}
			return nil
		}
	}
	return fmt.Errorf("ctl: unknown command %q (see 'shardgate ctl -h'; commands: %s)", args[0], names())
}

func names() string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

func usage(env Env) {
	w := env.Stdout
	fmt.Fprint(w, "Usage: shardgate ctl [connection flags] [--json] [--dry-run] COMMAND [flags] [args]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %-30s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprint(w, "\nEvery command takes --json (the API's answer, for scripts); every action\ntakes --dry-run (the plan, nothing changes), --force and --reason TEXT.\n\nConnection flags (also after the command):\n\n")
	env.ConnHelp(w)
}

// session is one command's run: its flags and its client.
type session struct {
	env    Env
	cmd    command
	json   bool
	fs     *flag.FlagSet
	client *Client
}

// flags starts the command's flag set, with --json and the connection
// flags already on it.
func (s *session) flags() *flag.FlagSet {
	s.fs = flag.NewFlagSet("shardgate ctl "+s.cmd.name, flag.ContinueOnError)
	s.fs.SetOutput(io.Discard)
	s.fs.BoolVar(&s.json, "json", false, "print the API's answer as JSON")
	s.env.Register(s.fs)
	return s.fs
}

// parse parses flags and positional arguments in any order and connects;
// it wants exactly npos positional arguments.
func (s *session) parse(args []string, npos int) ([]string, error) {
	var pos []string
	for {
		if err := s.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(s.env.Stdout, "Usage: shardgate ctl %s %s\n\n%s\n\n", s.cmd.name, s.cmd.args, s.cmd.help)
				s.fs.SetOutput(s.env.Stdout)
				s.fs.PrintDefaults()
				return nil, ErrHelp
			}
			return nil, fmt.Errorf("%w (see 'shardgate ctl %s -h')", err, s.cmd.name)
		}
		args = s.fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != npos {
		want := "no arguments"
		if npos > 0 {
			want = s.cmd.args
		}
		return nil, fmt.Errorf("wants %s, got %q (see 'shardgate ctl %s -h')", want, strings.Join(pos, " "), s.cmd.name)
	}
	// A bad connection setting is a usage error (exit 2), as a bad flag is.
	conn, err := s.env.Resolve()
	if err != nil {
		return nil, fmt.Errorf("%w (see 'shardgate ctl -h')", err)
	}
	if u, err := url.Parse(conn.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--admin-url %q must be http://HOST:PORT or https://HOST:PORT, a node's admin listener (see 'shardgate ctl -h')", conn.URL)
	}
	s.client = &Client{BaseURL: conn.URL, Token: conn.Token, Actor: conn.Actor, HTTP: &http.Client{Timeout: conn.Timeout}}
	return pos, nil
}
