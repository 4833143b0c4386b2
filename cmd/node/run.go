package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/shardgate/shardgate/app"
)

func runNode(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("shardgate run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f nodeFlags
	f.register(fs)
	stopTimeout := fs.Duration("stop-timeout", 60*time.Second, "how long a graceful stop may take to hand off shards")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.finish(stderr); err != nil {
		return err
	}
	s, err := app.New(f.cfg)
	if err != nil {
		return err
	}
	f.cfg.Logger.Info("shardgate node starting", "ws", s.WSURL(), "admin", s.AdminURL(), "gossip", s.GossipAddr())
	return s.Run(ctx, *stopTimeout)
}
