package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
)

// TestRunAgainstCluster runs short benches against a real three-node
// cluster in this process and checks that the figures agree with each
// other, also when a node is drained under the load.
func TestRunAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	nodes := MustCluster(t, 3, nil)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.WSURL())
	}

	t.Run("consistent figures", func(t *testing.T) {
		var progress testutil.Buffer
		cfg := DefaultConfig()
		cfg.Nodes, cfg.Conns, cfg.Keys = urls, 20, 10
		cfg.Rate, cfg.Duration, cfg.Warmup = 100, 2*time.Second, 300*time.Millisecond
		cfg.Size, cfg.Grace = 200, 3*time.Second
		cfg.SourceIPs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
		cfg.Progress = &progress
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rep)
		if rep.Sent < 150 || rep.Sent > 210 {
			t.Errorf("sent %d in a 2 s run at 100/s", rep.Sent)
		}
		if rep.Acked != rep.Sent || rep.Delivered != rep.Acked {
			t.Errorf("a quiet cluster should ack and deliver every send: sent %d acked %d delivered %d", rep.Sent, rep.Acked, rep.Delivered)
		}
		if rep.WarmupCounts.Sent == 0 || rep.WarmupCounts.Acked != rep.WarmupCounts.Sent {
			t.Errorf("warm-up: %+v", rep.WarmupCounts)
		}
		if rep.Keys != 10 || rep.Conns != 20 {
			t.Errorf("keys %d conns %d", rep.Keys, rep.Conns)
		}
		if !strings.Contains(progress.String(), "acked") {
			t.Errorf("no progress line in %q", progress.String())
		}
		checkReports(t, rep)
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})

	t.Run("interrupted", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Nodes, cfg.Conns = urls, 6
		cfg.Rate, cfg.Duration, cfg.Grace = 50, time.Minute, 2*time.Second
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(1500*time.Millisecond, cancel)
		start := time.Now()
		rep, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("an interrupted run took %v", took)
		}
		if !rep.Interrupted || rep.ElapsedSec > 5 {
			t.Errorf("interrupted %v after %.1fs", rep.Interrupted, rep.ElapsedSec)
		}
		checkConsistent(t, rep)
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})

	// Last: it leaves two nodes. The drained node closes its connections
	// (1001); the bench reconnects them elsewhere with since and retries
	// the sends they carried with the same ids. How long a drain takes
	// depends on the machine's load, so the run is not of a fixed length
	// (one could end before the drained node closed anything): it is
	// stopped once the drain is over, every connection is open on the
	// other nodes and they have carried sends for another second.
	t.Run("node drained mid-run", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Nodes, cfg.Conns = urls, 12
		cfg.Rate, cfg.Duration, cfg.Grace = 100, time.Minute, 5*time.Second
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		drained := make(chan error, 1)
		go func() {
			defer stop()
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				drained <- ctx.Err()
				return
			}
			dctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := nodes[2].Shutdown(dctx)
			if err == nil {
				err = awaitConnections(dctx, nodes[:2], cfg.Conns)
			}
			drained <- err
			if err == nil {
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
		}()
		rep, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-drained; err != nil {
			t.Fatalf("drain: %v", err)
		}
		checkConsistent(t, rep)
		if rep.Reconnects < 4 || len(rep.Disconnects) == 0 || rep.Disconnects[0].Kind != "1001" {
			t.Errorf("%d reconnects after disconnects %+v, want the drained node's 4 connections closed with 1001 and moved",
				rep.Reconnects, rep.Disconnects)
		}
		t.Logf("drain: acked %d/%d, failed %d, retries %d, reconnects %d, errors %+v",
			rep.Acked, rep.Sent, rep.Failed, rep.Retries, rep.Reconnects, rep.ErrorKinds)
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})

	t.Run("unreachable node", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Nodes, cfg.Conns = []string{"ws://127.0.0.1:1/v1/ws"}, 3
		cfg.ConnectTimeout = 5 * time.Second
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "connect bench-") {
			t.Errorf("err = %v, want a sentence naming the connection", err)
		}
		testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
	})
}

// TestRunWithTokens runs against a node that requires JWTs: the bench
// mints one per connection, and a wrong secret fails with a clear error.
func TestRunWithTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	nodes := MustCluster(t, 1, func(c *app.Config) { c.Insecure, c.AuthSecret = false, "bench-test-secret-0123456789abcdef" })
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Conns, cfg.Secret = []string{nodes[0].WSURL()}, 4, "bench-test-secret-0123456789abcdef"
	cfg.Rate, cfg.Duration = 40, time.Second
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rep)

	cfg.Secret = "wrong"
	_, err = Run(context.Background(), cfg)
	if !errors.Is(err, shardgate.ErrUnauthorized) {
		t.Errorf("wrong secret: err = %v, want unauthorized", err)
	}
	t.Logf("wrong secret: %v", err)
	cfg.Secret = ""
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("no token accepted by a node that requires one")
	}
	testutil.EventuallyExplained(t, 5*time.Second, "end of the bench's goroutines", ownGoroutines)
}

// checkConsistent holds a report to what must be true of any run on a
// healthy cluster.
func checkConsistent(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Acked == 0 {
		t.Fatalf("nothing acknowledged: %+v", rep)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.Reordered != 0 || rep.SeqConflicts != 0 || rep.Foreign != 0 {
		t.Errorf("lost %d duplicated %d reordered %d conflicts %d foreign %d",
			rep.Lost, rep.Duplicated, rep.Reordered, rep.SeqConflicts, rep.Foreign)
	}
	if rep.Acked > rep.Sent || rep.Delivered > rep.Acked+rep.DeliveredUnacked {
		t.Errorf("sent %d acked %d delivered %d", rep.Sent, rep.Acked, rep.Delivered)
	}
	if len(rep.Problems()) != 0 {
		t.Errorf("problems: %v", rep.Problems())
	}
	for name, l := range map[string]Latency{"ack": rep.AckLatency, "delivery": rep.DeliveryLatency} {
		if !(0 < l.P50 && l.P50 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
			t.Errorf("%s latency not ordered: %+v", name, l)
		}
	}
	if uint64(rep.Acked) != rep.AckLatency.Count || uint64(rep.Delivered) != rep.DeliveryLatency.Count {
		t.Errorf("latency counts %d/%d for %d acked, %d delivered",
			rep.AckLatency.Count, rep.DeliveryLatency.Count, rep.Acked, rep.Delivered)
	}
	if !(rep.ElapsedSec <= rep.AckSpanSec && rep.AckSpanSec <= rep.ElapsedSec+5) ||
		rep.AckedPerSec != float64(rep.Acked)/rep.AckSpanSec {
		t.Errorf("acked/s %v for %d in %vs (window %vs)", rep.AckedPerSec, rep.Acked, rep.AckSpanSec, rep.ElapsedSec)
	}
}

// checkReports checks that the JSON round-trips and the table names every
// figure.
func checkReports(t *testing.T, rep *Report) {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON does not round-trip:\n%+v\n%+v", back, *rep)
	}
	buf.Reset()
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acknowledged", "delivered", "lost", "duplicated", "p50", "p99", "p999"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

// awaitConnections waits until the nodes hold want client connections
// between them, by their shardgate_connections gauges.
func awaitConnections(ctx context.Context, nodes []*app.Server, want int) error {
	got := 0
	for {
		got = 0
		for _, s := range nodes {
			n, err := clientConnections(ctx, s)
			if err != nil {
				return err
			}
			got += n
		}
		if got == want {
			return nil
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("%d client connections on the remaining nodes, want %d: %w", got, want, ctx.Err())
		}
	}
}

// clientConnections reads a node's shardgate_connections gauge.
func clientConnections(ctx context.Context, s *app.Server) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.AdminURL()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "shardgate_connections "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no shardgate_connections among the metrics", s.Name())
}
