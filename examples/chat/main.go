package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
)

func main() {
	nodes := flag.String("nodes", "http://127.0.0.1:8080", "comma-separated node addresses (any nodes of the cluster)")
	n := flag.Int("messages", 20, "messages alice sends")
	timeout := flag.Duration("timeout", time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, strings.Split(*nodes, ","), *n); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, nodes []string, n int) error {
	// Fresh names per run: a dev cluster keeps the inboxes of earlier runs.
	suffix := fmt.Sprintf("-%d", time.Now().UnixNano()%1_000_000)
	alice, err := connect(ctx, nodes, "alice"+suffix)
	if err != nil {
		return err
	}
	defer alice.Close()
	bob, err := connect(ctx, nodes, "bob"+suffix)
	if err != nil {
		return err
	}
	defer bob.Close()
	fmt.Printf("alice on %s, bob on %s\n", alice.Welcome().Node, bob.Welcome().Node)

	// Bob answers every message he receives.
	bobDone := make(chan error, 1)
	go func() {
		bobDone <- func() error {
			for i := range n {
				m, err := next(ctx, bob)
				if err != nil {
					return fmt.Errorf("bob waiting for message %d: %w", i+1, err)
				}
				if want := fmt.Sprintf("%q", fmt.Sprintf("hello %d", i)); string(m.Data) != want {
					return fmt.Errorf("bob's message #%d is %s, want %s: out of order", m.Seq, m.Data, want)
				}
				fmt.Printf("  bob   got #%d from %s: %s\n", m.Seq, strings.TrimSuffix(m.From, suffix), m.Data)
				if _, err := bob.Send(ctx, m.From, fmt.Sprintf("re: hello %d", i), ""); err != nil {
					return fmt.Errorf("bob's answer: %w", err)
				}
			}
			return nil
		}()
	}()

	var last uint64
	for i := range n {
		r, err := alice.Send(ctx, bob.Welcome().Key, fmt.Sprintf("hello %d", i), "")
		if err != nil {
			return fmt.Errorf("alice's message %d: %w", i, err)
		}
		if r.Seq <= last {
			return fmt.Errorf("seq %d after %d", r.Seq, last)
		}
		last = r.Seq
		m, err := next(ctx, alice)
		if err != nil {
			return fmt.Errorf("alice waiting for answer %d: %w", i, err)
		}
		if want := fmt.Sprintf("%q", fmt.Sprintf("re: hello %d", i)); string(m.Data) != want {
			return fmt.Errorf("alice's answer #%d is %s, want %s", m.Seq, m.Data, want)
		}
		fmt.Printf("  alice got #%d from %s: %s\n", m.Seq, strings.TrimSuffix(m.From, suffix), m.Data)
	}
	if err := <-bobDone; err != nil {
		return err
	}
	// The read cursor: a later connection without since starts after it.
	if err := alice.Ack(ctx, alice.LastSeq()); err != nil {
		return err
	}
	fmt.Printf("ok: %d messages each way, each once and in order\n", n)
	return nil
}

func connect(ctx context.Context, nodes []string, user string) (*client.Client, error) {
	c, err := client.Connect(ctx, client.Config{Nodes: nodes, User: user, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	return c, nil
}

// next waits for the next inbox message.
func next(ctx context.Context, c *client.Client) (shardgate.Message, error) {
	select {
	case m, ok := <-c.Messages():
		if !ok {
			return m, fmt.Errorf("client stopped: %w", c.Err())
		}
		return m, nil
	case <-ctx.Done():
		return shardgate.Message{}, ctx.Err()
	}
}
