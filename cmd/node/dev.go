package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shardgate/shardgate/app"
)

// runDev starts an N-node cluster in this process on loopback, in
// --insecure mode, and prints where everything is.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shardgate dev", flag.ContinueOnError)
	fs.SetOutput(stdout) // only -h prints through it
	nodes := fs.Int("nodes", 3, "number of nodes")
	dataDir := fs.String("data-dir", "", "where node data lives (default: a fresh temporary directory)")
	wsPort := fs.Int("ws-port", 8080, "public port of the first node; the next nodes use the ports after it")
	adminPort := fs.Int("admin-port", 9090, "admin port of the first node; the next nodes use the ports after it")
	gossipPort := fs.Int("gossip-port", 7946, "gossip port of the first node; the next nodes use the ports after it")
	partitions := fs.Int("partitions", 271, "number of shards")
	backups := fs.Int("backups", 1, "backups per shard")
	secret := fs.String("auth-secret", "", "require client JWTs signed with this secret instead of ?user=KEY")
	logLevel := fs.String("log-level", "warn", "log level")
	origins := fs.String("allowed-origins", envDefault("SHARDGATE_ALLOWED_ORIGINS", ""), "comma-separated browser origins allowed on /v1/ws besides same-origin pages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *nodes < 1 || *nodes > 64 {
		return fmt.Errorf("--nodes must be between 1 and 64, got %d", *nodes)
	}
	if err := checkDevPorts(*nodes, []devPort{{"--ws-port", *wsPort, false}, {"--admin-port", *adminPort, false}, {"--gossip-port", *gossipPort, true}}); err != nil {
		return err
	}
	log, err := newLogger(stderr, "text", *logLevel)
	if err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "shardgate-dev-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	var servers []*app.Server
	defer func() {
		for i := len(servers) - 1; i >= 0; i-- {
			servers[i].Kill()
		}
	}()
	first := "127.0.0.1:" + strconv.Itoa(*gossipPort)
	for i := 0; i < *nodes; i++ {
		cfg := app.DefaultConfig()
		cfg.Name = "n" + strconv.Itoa(i+1)
		cfg.DataDir = filepath.Join(dir, cfg.Name)
		cfg.GossipAddr = "127.0.0.1:" + strconv.Itoa(*gossipPort+i)
		cfg.WSAddr = "127.0.0.1:" + strconv.Itoa(*wsPort+i)
		cfg.AdminAddr = "127.0.0.1:" + strconv.Itoa(*adminPort+i)
		cfg.Partitions, cfg.Backups = *partitions, *backups
		cfg.AuthSecret = *secret
		cfg.Insecure = *secret == ""
		cfg.Local = true
		cfg.Demo = true
		cfg.Logger = log
		cfg.AllowedOrigins = append(devOrigins(*wsPort, *nodes), split(*origins)...)
		if i > 0 {
			cfg.Join = []string{first}
		}
		s, err := app.New(cfg)
		if err != nil {
			return fmt.Errorf("node %s: %w", cfg.Name, err)
		}
		servers = append(servers, s)
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("node %s: %w", cfg.Name, err)
		}
	}
	if err := waitReady(ctx, servers); err != nil {
		return err
	}
	printDev(stdout, servers, *secret == "")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return nil
}

func waitReady(ctx context.Context, servers []*app.Server) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range servers {
		for s.Node().Ready() != nil {
			if time.Now().After(deadline) {
				return errors.New("the dev cluster did not become ready within 30s: " + s.Node().Ready().Error())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func printDev(w io.Writer, servers []*app.Server, insecure bool) {
	fmt.Fprintf(w, "shardgate dev cluster: %d nodes ready\n\n", len(servers))
	for _, s := range servers {
		fmt.Fprintf(w, "  %-4s ws %-32s admin %s\n", s.Name(), s.WSURL(), s.AdminURL())
	}
	fmt.Fprintf(w, "\n  dashboard: %s/\n", servers[0].AdminURL())
	fmt.Fprintf(w, "  chat demo: %s/demo/\n", servers[0].PublicURL())
	if insecure {
		fmt.Fprintf(w, "  connect:   websocat '%s?user=alice'\n", servers[0].WSURL())
	}
	fmt.Fprintf(w, "  route:     curl '%s/v1/route?key=alice'\n\nCtrl-C stops the cluster.\n", servers[0].PublicURL())
}

// devPort is one of dev's port flags: node i listens on base+i.
type devPort struct {
	flag string
	base int
	udp  bool // gossip also needs the UDP port
}

// checkDevPorts names the dev flag whose port range is taken, before any
// node starts: the node itself would blame run's --ws-addr and friends,
// which dev does not have.
func checkDevPorts(nodes int, ports []devPort) error {
	for _, p := range ports {
		if p.base < 1 || p.base+nodes-1 > 65535 {
			return fmt.Errorf("%s %d: nodes 1..%d need ports %d-%d, outside 1-65535", p.flag, p.base, nodes, p.base, p.base+nodes-1)
		}
		for i := 0; i < nodes; i++ {
			addr := "127.0.0.1:" + strconv.Itoa(p.base+i)
			if err := probePort(addr, p.udp); err != nil {
				return fmt.Errorf("%s %d: node n%d needs %s, which is not usable (%v); pick another %s", p.flag, p.base, i+1, addr, err, p.flag)
			}
		}
	}
	return nil
}

func probePort(addr string, udp bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Unwrap(err)
	}
	ln.Close()
	if udp {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return errors.Unwrap(err)
		}
		pc.Close()
	}
	return nil
}

// devOrigins are the public origins of every dev node: a page served by
// one node (the demo) connects to its users' homes on the others.
func devOrigins(wsPort, nodes int) []string {
	var out []string
	for i := range nodes {
		port := strconv.Itoa(wsPort + i)
		out = append(out, "http://127.0.0.1:"+port, "http://localhost:"+port)
	}
	return out
}
