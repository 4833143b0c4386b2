package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/shardgate/shardgate/app"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseRun(args, stdout, stderr)
	if err != nil {
		return err
	}
	s, err := app.New(o.cfg)
	if err != nil {
		return o.blame(err) // a bad value from the environment or a file says so
	}
	o.cfg.Logger.Info("shardgate node starting", "ws", s.WSURL(), "admin", s.AdminURL(), "gossip", s.GossipAddr())
	stop := reloadOnHangup(s, o.cfg.Logger)
	defer stop()
	return s.Run(ctx, o.stopTimeout)
}

// reloadOnHangup reads the listener certificate again on every SIGHUP,
// until the returned func is called.
func reloadOnHangup(s *app.Server, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hup:
				if err := s.ReloadTLS(); err != nil {
					log.Error("SIGHUP: certificate not reloaded; the old one stays in use", "err", err)
				}
			case <-done:
				return
			}
		}
	})
	return func() { signal.Stop(hup); close(done); wg.Wait() }
}

// parseRun resolves run's settings from the flags in args, the environment
// and the --config file, and builds the logger.
func parseRun(args []string, stdout, stderr io.Writer) (*runOptions, error) {
	o := defaultRunOptions()
	ss := runSettings(o)
	fs := flag.NewFlagSet("shardgate run", flag.ContinueOnError)
	fs.SetOutput(stdout) // only -h prints through it
	ss.register(fs)
	fs.Usage = func() { printRunHelp(fs.Output(), ss) }
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := ss.resolve(configPath(ss)); err != nil {
		return nil, err
	}
	if err := checkUnsafeEnv(ss.lookup); err != nil {
		return nil, err
	}
	if o.stopTimeout <= 0 {
		return nil, ss.blame(fmt.Errorf("--stop-timeout must be positive, got %s", o.stopTimeout))
	}
	o.blame = ss.blame
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return nil, err
	}
	o.cfg.Logger = log
	for _, m := range ss.misspelledEnv(os.Environ(), "SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE") {
		log.Warn("an environment variable is not a setting and is ignored; it looks like a misspelling", "var", m[0], "did_you_mean", m[1])
	}
	return o, nil
}

// configPath is --config, else SHARDGATE_CONFIG: the file is read before
// the other settings, which it provides the lowest layer of.
func configPath(ss *settings) string {
	if p, ok := ss.flags["config"]; ok {
		return p
	}
	p, _ := ss.lookup(envName("config"))
	return p
}

func printRunHelp(w io.Writer, ss *settings) {
	fmt.Fprint(w, `Usage: shardgate run [flags]

Starts a node. Every flag can also be set by the environment variable shown
next to it, or as a top-level key of the --config file (TOML; the key is
the flag name without the leading dashes: data-dir = "/var/lib/shardgate"). A flag beats the environment, which beats the file,
which beats the default. Secrets also take a --…-file form that names a file
holding the value.

`)
	printSettings(w, ss)
}
