package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/app"
)

var errUsage = errors.New("usage")

// envDefault returns the environment variable's value or def.
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, ok := os.LookupEnv(name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(os.Getenv(name))
	return v
}

// nodeFlags registers the flags of SPEC §3 on fs; each falls back to its
// environment variable.
type nodeFlags struct {
	cfg       app.Config
	join      string
	origins   string
	logFormat string
	logLevel  string
	local     bool
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	d := app.DefaultConfig()
	c := &f.cfg
	fs.StringVar(&c.Name, "name", envDefault("SHARDGATE_NAME", d.Name), "stable node name (persisted in the data dir)")
	fs.StringVar(&c.DataDir, "data-dir", envDefault("SHARDGATE_DATA_DIR", ""), "bbolt files and node identity (default ./data/<name>)")
	fs.StringVar(&c.GossipAddr, "gossip-addr", envDefault("SHARDGATE_GOSSIP_ADDR", d.GossipAddr), "memberlist bind address")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", envDefault("SHARDGATE_ADVERTISE_ADDR", ""), "address other nodes use (default: gossip addr)")
	fs.StringVar(&c.WSAddr, "ws-addr", envDefault("SHARDGATE_WS_ADDR", d.WSAddr), "public listener: WebSocket endpoint and route look-up")
	fs.StringVar(&c.AdminAddr, "admin-addr", envDefault("SHARDGATE_ADMIN_ADDR", d.AdminAddr), "admin API, dashboard, metrics")
	fs.StringVar(&f.join, "join", envDefault("SHARDGATE_JOIN", ""), "comma-separated gossip addresses of existing nodes")
	fs.IntVar(&c.Partitions, "partitions", envInt("SHARDGATE_PARTITIONS", d.Partitions), "number of shards P (fixed for the cluster's life)")
	fs.IntVar(&c.Backups, "backups", envInt("SHARDGATE_BACKUPS", d.Backups), "backups B per shard")
	fs.StringVar(&c.AuthSecret, "auth-secret", envDefault("SHARDGATE_AUTH_SECRET", ""), "HS256 secret for client JWTs")
	fs.BoolVar(&c.Insecure, "insecure", envBool("SHARDGATE_INSECURE"), "dev only: clients name themselves with ?user=KEY")
	fs.StringVar(&c.AdminToken, "admin-token", envDefault("SHARDGATE_ADMIN_TOKEN", ""), "bearer token for /v1/* on the admin listener")
	fs.StringVar(&c.ClusterKey, "cluster-key", envDefault("SHARDGATE_CLUSTER_KEY", ""), "base64 AES key (16/24/32 bytes): gossip encryption and node-link authentication")
	fs.StringVar(&f.origins, "allowed-origins", envDefault("SHARDGATE_ALLOWED_ORIGINS", ""), "comma-separated browser origins allowed on /v1/ws besides same-origin and origin-less clients (https://app.example, https://*.example); default none")
	fs.StringVar(&f.logFormat, "log-format", envDefault("SHARDGATE_LOG_FORMAT", "text"), "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", envDefault("SHARDGATE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.BoolVar(&f.local, "fast-failure-detection", envBool("SHARDGATE_FAST"), "loopback timings: faster failure detection and planning")
	fs.BoolVar(&c.AckBeforeReplicate, "unsafe-ack-before-replicate", envBool("SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE"), "BROKEN ON PURPOSE, for testing the test suite: acknowledge before backups commit")
}

// finish applies what depends on several flags and builds the logger.
func (f *nodeFlags) finish(stderr io.Writer) error {
	if f.join != "" {
		for _, j := range strings.Split(f.join, ",") {
			if j = strings.TrimSpace(j); j != "" {
				if _, _, err := net.SplitHostPort(j); err != nil {
					j = net.JoinHostPort(j, "7946") // a bare DNS name or IP: the default gossip port
				}
				f.cfg.Join = append(f.cfg.Join, j)
			}
		}
	}
	f.cfg.AllowedOrigins = splitList(f.origins)
	f.cfg.Local = f.local
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	f.cfg.Logger = log
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q is not text or json", format)
}

// parse parses args and turns flag errors into errUsage (flag already
// printed the sentence).
func parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // one line for a bad flag, not the whole usage
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return errUsage
	}
	if err != nil {
		return fmt.Errorf("%w (see '%s -h')", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
