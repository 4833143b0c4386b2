// Command chaos runs a real shardgate cluster under load, hurts it with
// real faults and checks the guarantees of docs/PROTOCOL.md against what the clients
// saw. It prints a scorecard, writes it as JSON, and exits 0 only when
// every safety figure is zero and every planned fault fired and healed.
//
//	go run ./test/integration/chaos -tier process   # as root: netns + nftables
//	go run ./test/integration/chaos -tier compose   # Docker and docker-compose.cluster.yml
//	go run ./test/integration/chaos -tier process -broken   # must FAIL
//
// A tier whose requirements are missing (root, Docker) fails loudly with
// exit status 2: a chaos suite that skips itself proves nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/shardgate/shardgate/test/checker"
)

type options struct {
	tier     string
	plan     string
	broken   bool
	jsonPath string
	dir      string
	subnet   string
	bin      string
	timeout  time.Duration
	hold     time.Duration // how long a pause or partition lasts
	settle   time.Duration // healthy load between faults
	converge time.Duration // bound on re-convergence after each fault
	budget   time.Duration // how long one send is retried
	wl       WorkloadConfig
	// pushback makes the overload phase's p99 bound fail the run; off, it
	// is reported only (on a loaded 2-core machine it is close to the bound).
	pushback bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.StringVar(&o.tier, "tier", "", "process (real processes in network namespaces, needs root) or compose (Docker)")
	fs.StringVar(&o.plan, "plan", "", "full (every fault kind), broken (short: kill -9 after unreplicated acks) or one fault alone (oneway, overload, diskfull); default full, or broken with -broken")
	fs.BoolVar(&o.broken, "broken", false, "start nodes with --unsafe-ack-before-replicate: the run must report lost messages and fail")
	fs.StringVar(&o.jsonPath, "json", "", "write the scorecard here (default: RUN_DIR/scorecard.json)")
	fs.StringVar(&o.dir, "dir", "", "run directory for node data and logs (default: a new /tmp/shardgate-chaos-*)")
	fs.StringVar(&o.subnet, "subnet", "", "first three octets of the /24 to use (default 10.213.77 for process, 172.30.99 for compose)")
	fs.StringVar(&o.bin, "bin", "", "a prebuilt static shardgate binary (default: build ./cmd/node into build/shardgate)")
	fs.DurationVar(&o.timeout, "timeout", 7*time.Minute, "bound on setup and faults; the final read and verdict get 2 more minutes at most")
	fs.DurationVar(&o.hold, "hold", 12*time.Second, "how long a pause or a partition lasts")
	fs.DurationVar(&o.settle, "settle", 4*time.Second, "healthy load between faults")
	fs.DurationVar(&o.converge, "converge", 90*time.Second, "bound on re-convergence after a fault")
	fs.DurationVar(&o.budget, "send-budget", 40*time.Second, "how long one send is retried with its idempotency id")
	fs.IntVar(&o.wl.Users, "users", 40, "recipients, each with a receiving connection")
	fs.IntVar(&o.wl.Senders, "senders", 12, "sending connections")
	fs.DurationVar(&o.wl.Interval, "interval", 30*time.Millisecond, "pause between one sender's sends")
	fs.DurationVar(&o.wl.AttemptTimeout, "attempt-timeout", 4*time.Second, "bound on one send attempt (then the outcome is unknown)")
	fs.BoolVar(&o.pushback, "require-pushback", false, "fail the run when the overload phase's ack p99 at 3× is over its bound (off: reported, not judged)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.wl.SendBudget = o.budget
	switch o.tier {
	case "process", "compose":
	default:
		return o, fmt.Errorf("-tier must be process or compose, got %q", o.tier)
	}
	if o.plan == "" {
		o.plan = map[bool]string{true: "broken", false: "full"}[o.broken]
	}
	if _, ok := plans[o.plan]; !ok {
		return o, fmt.Errorf("-plan must be one of %s, got %q", strings.Join(slices.Sorted(maps.Keys(plans)), ", "), o.plan)
	}
	if o.subnet == "" {
		o.subnet = map[string]string{"process": "10.213.77", "compose": "172.30.99"}[o.tier]
	}
	if o.wl.Users < 1 || o.wl.Senders < 1 {
		return o, fmt.Errorf("-users and -senders must be positive")
	}
	return o, nil
}

func main() { os.Exit(mainExit(os.Args[1:])) }

// mainExit returns 0 on a pass, 1 on a failed run, 2 when the run could not
// be made (missing root or Docker, bad flags, setup failure).
func mainExit(args []string) int {
	opts, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := preflight(opts); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: FAIL: the %s tier cannot run here: %v\n", opts.tier, err)
		return 2
	}
	unlock, err := lockTier(opts.tier)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: FAIL:", err)
		return 2
	}
	defer unlock()
	if err := prepareDir(&opts); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: FAIL:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	sc, err := execute(ctx, opts, log)
	if sc != nil {
		sc.Print(os.Stdout)
		if werr := sc.WriteJSON(opts.jsonPath); werr != nil {
			log.Error("writing the scorecard", "err", werr)
		} else {
			fmt.Printf("scorecard JSON: %s\n", opts.jsonPath)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: FAIL:", err)
		return 2
	}
	if !sc.Pass {
		return 1
	}
	return 0
}

// prepareDir creates the run directory and places the JSON scorecard in it
// unless -json says otherwise.
func prepareDir(opts *options) error {
	var err error
	if opts.dir == "" {
		if opts.dir, err = os.MkdirTemp("", "shardgate-chaos-"+opts.tier+"-"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(opts.dir, 0o755); err != nil {
		return err
	}
	if opts.jsonPath == "" {
		opts.jsonPath = filepath.Join(opts.dir, "scorecard.json")
	}
	return nil
}

// execute sets the tier up, runs the plan under load and judges it. The
// tier is torn down on every path, including interrupts and timeouts.
func execute(ctx context.Context, opts options, log *slog.Logger) (sc *Scorecard, err error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	if opts.bin == "" {
		log.Info("building the static node binary", "out", filepath.Join(root, "build", "shardgate"))
		if opts.bin, err = buildBinary(ctx, root, opts.broken); err != nil {
			return nil, err
		}
	}
	secrets := newSecrets()
	var tier Tier
	if opts.tier == "process" {
		tier = newProcTier(opts.bin, opts.dir, opts.subnet, secrets, opts.broken)
	} else {
		tier = newComposeTier(root, opts.dir, opts.subnet, secrets, opts.broken)
	}
	defer func() {
		if cerr := tier.Close(); cerr != nil {
			log.Error("cleanup", "err", cerr)
		}
	}()
	s := &Suite{opts: opts, tier: tier, admin: newAdminClient(secrets.AdminToken), log: log,
		rec: checker.NewRecorder(), tl: &Timeline{}}
	s.setMembers(tier.Initial())
	sc = &Scorecard{Tier: opts.tier, Plan: opts.plan, Broken: opts.broken, Started: time.Now(), RunDir: opts.dir}
	log.Info("starting the cluster", "tier", opts.tier, "dir", opts.dir)
	if err := tier.Setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if _, err := s.waitConverged(ctx, s.Members(), 2*opts.converge); err != nil {
		for _, n := range tier.Initial() {
			log.Error("node log", "node", n, "tail", tier.LogTail(n, 20))
		}
		return nil, fmt.Errorf("the initial cluster never converged: %w", err)
	}
	s.wl = newWorkload(opts.wl, s.rec, s.tl, log, secrets.AuthSecret, s.endpoints)
	s.wl.Start(ctx)
	go s.progress(ctx)
	sleepCtx(ctx, 2*opts.settle) // warm up: every user connected, writes flowing
	s.runPlan(ctx, opts.plan)
	sleepCtx(ctx, opts.settle)
	// The final read gets its own time, so a run that hit -timeout still
	// reports what it saw.
	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer fcancel()
	if ctx.Err() != nil {
		s.failf("the run was cut short: %v", context.Cause(ctx))
	}
	s.finish(fctx, sc)
	sc.DurationS = time.Since(sc.Started).Seconds()
	if sc.Pass && opts.tier == "process" {
		for _, n := range append(tier.Initial(), tier.Spare()) {
			os.RemoveAll(filepath.Join(opts.dir, n)) // node data; the logs stay
		}
	}
	if !sc.Pass {
		for _, n := range append(tier.Initial(), tier.Spare()) {
			if t := tier.LogTail(n, 8); t != "" {
				fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n%s\n", n, t)
			}
		}
	}
	return sc, nil
}

// progress logs a line every 10 s so a long run shows it is alive.
func (s *Suite) progress(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.log.Info("load", "members", s.Members(), "progress", s.wl.Progress())
		}
	}
}
