package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shardgate/shardgate/client"
)

func main() {
	nodes := flag.String("nodes", "http://127.0.0.1:8080", "comma-separated node addresses (any nodes of the cluster)")
	users := flag.Int("users", 20, "subscribed users")
	news := flag.Int("news", 5, "announcements published to the topic")
	timeout := flag.Duration("timeout", time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, strings.Split(*nodes, ","), *users, *news); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, nodes []string, users, news int) error {
	run := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000) // fresh names: dev keeps earlier runs' inboxes
	topic := "news-" + run
	var clients []*client.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	perNode := map[string]int{}
	for i := range users {
		c, err := client.Connect(ctx, client.Config{Nodes: nodes, User: fmt.Sprintf("user-%s-%d", run, i)})
		if err != nil {
			return fmt.Errorf("connect user %d: %w", i, err)
		}
		clients = append(clients, c)
		if err := c.Subscribe(ctx, topic); err != nil {
			return fmt.Errorf("subscribe user %d: %w", i, err)
		}
		perNode[c.Welcome().Node]++
	}
	fmt.Printf("%d users subscribed to %s, connected per node: %v\n", users, topic, perNode)

	service, err := client.Connect(ctx, client.Config{Nodes: nodes, User: "notifier-" + run})
	if err != nil {
		return fmt.Errorf("connect the service: %w", err)
	}
	defer service.Close()
	for i := range news {
		n, err := service.Publish(ctx, topic, map[string]any{"headline": fmt.Sprintf("announcement %d", i)})
		if err != nil {
			return fmt.Errorf("publish %d: %w", i, err)
		}
		fmt.Printf("published announcement %d to %d nodes\n", i, n)
	}
	for i, c := range clients {
		if _, err := service.Send(ctx, c.Welcome().Key, map[string]any{"text": "your weekly report is ready", "user": i}, "report-"+run+"-"+fmt.Sprint(i)); err != nil {
			return fmt.Errorf("notify user %d: %w", i, err)
		}
	}
	fmt.Printf("sent %d personal notifications\n", users)

	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i, c := range clients {
		wg.Go(func() {
			if err := expect(ctx, c, news); err != nil {
				errs <- fmt.Errorf("user %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Printf("ok: %d users each got %d announcements in order and their notification\n", users, news)
	return nil
}

// expect waits for news publications, in publish order, and one inbox
// message.
func expect(ctx context.Context, c *client.Client, news int) error {
	got, inbox := 0, 0
	for got < news || inbox < 1 {
		select {
		case p := <-c.Publications():
			var v struct{ Headline string }
			if err := json.Unmarshal(p.Data, &v); err != nil || v.Headline != fmt.Sprintf("announcement %d", got) {
				return fmt.Errorf("publication %s, want announcement %d", p.Data, got)
			}
			got++
		case m := <-c.Messages():
			if inbox++; inbox > 1 || m.Seq != 1 {
				return fmt.Errorf("unexpected inbox message #%d: %s", m.Seq, m.Data)
			}
		case <-ctx.Done():
			return fmt.Errorf("%d of %d announcements and %d of 1 notifications before the deadline", got, news, inbox)
		}
	}
	return nil
}
