package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// keyHomedOn finds a key whose home is the named node.
func keyHomedOn(t testing.TB, c *tcluster, node, prefix string) string {
	t.Helper()
	for i := 0; i < 10000; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		r, err := c.live()[0].Node().Route(context.Background(), k)
		if err == nil && r.Owner == node {
			return k
		}
	}
	t.Fatalf("no key homed on %s", node)
	return ""
}

func recvN(t testing.TB, cl *client.Conn, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	timeout := time.After(10 * time.Second)
	for len(seqs) < n {
		select {
		case m := <-cl.Messages():
			seqs = append(seqs, m.Seq)
		case <-timeout:
			t.Fatalf("received %d of %d messages: %v", len(seqs), n, seqs)
		}
	}
	return seqs
}

func assertSeqs(t testing.TB, got []uint64, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("got %d seqs %v, want %d..%d", len(got), got, from, to)
	}
	for i, s := range got {
		if s != from+uint64(i) {
			t.Fatalf("seq %d at position %d, want %d (all: %v)", s, i, from+uint64(i), got)
		}
	}
}

func TestMessagingAcrossNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := keyHomedOn(t, c, "n3", "bob")
	alice := c.dial("n1", "alice", nil)
	bobConn := c.dial("n2", bob, nil) // connected away from its home: forwarded

	const n = 40
	for i := 1; i <= n; i++ {
		res, err := alice.Send(ctx, bob, map[string]int{"i": i}, fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if res.Seq != uint64(i) || res.To != bob {
			t.Fatalf("send %d got %+v", i, res)
		}
	}
	assertSeqs(t, recvN(t, bobConn, n), 1, n)

	t.Run("idempotent retry", func(t *testing.T) {
		res, err := alice.Send(ctx, bob, map[string]int{"i": 1}, "m1")
		if err != nil || res.Seq != 1 {
			t.Fatalf("retry of m1: %+v %v", res, err)
		}
		if got := c.inbox(bob); len(got) != n {
			t.Fatalf("retry stored a new message: inbox has %d", len(got))
		}
	})

	t.Run("history", func(t *testing.T) {
		h, err := bobConn.History(ctx, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h.LastSeq != n || len(h.Messages) != n-10 || h.Messages[0].Seq != 11 {
			t.Fatalf("history since 10: last %d, %d messages", h.LastSeq, len(h.Messages))
		}
		var body map[string]int
		if err := json.Unmarshal(h.Messages[0].Data, &body); err != nil || body["i"] != 11 || h.Messages[0].From != "alice" {
			t.Fatalf("message 11: %+v", h.Messages[0])
		}
	})

	t.Run("since replay hands over to live", func(t *testing.T) {
		since := uint64(25)
		replay := c.dial("n3", bob, &since)
		done := make(chan error, 1)
		go func() {
			for i := n + 1; i <= n+20; i++ {
				if _, err := alice.Send(ctx, bob, i, fmt.Sprintf("m%d", i)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		assertSeqs(t, recvN(t, replay, n+20-25), 26, n+20)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		assertSeqs(t, recvN(t, bobConn, 20), n+1, n+20)
	})

	t.Run("presence", func(t *testing.T) {
		testutil.Eventually(t, 5*time.Second, "bob has 2 connections", func() bool {
			p, err := alice.Presence(ctx, bob, "nobody")
			return err == nil && p[bob].Online && p[bob].Connections == 2 && !p["nobody"].Online
		})
	})

	t.Run("ack cursor resumes", func(t *testing.T) {
		if err := bobConn.Ack(ctx, n+20); err != nil {
			t.Fatal(err)
		}
		again := c.dial("n1", bob, nil)
		if _, err := alice.Send(ctx, bob, "after", "after"); err != nil {
			t.Fatal(err)
		}
		assertSeqs(t, recvN(t, again, 1), n+21, n+21)
	})

	t.Run("ack beyond the inbox is refused and changes nothing", func(t *testing.T) {
		err := bobConn.Ack(ctx, n+1000)
		var rpc *client.RPCError
		if !errors.As(err, &rpc) || rpc.Code != -32602 || !strings.Contains(rpc.Message, "beyond") {
			t.Fatalf("ack past the last seq: %v, want -32602 naming the last seq", err)
		}
		// The cursor is still n+20: a connection without since replays n+21.
		again := c.dial("n2", bob, nil)
		assertSeqs(t, recvN(t, again, 1), n+21, n+21)
	})

	t.Run("publish fans out across nodes", func(t *testing.T) {
		s1 := c.dial("n1", "sub1", nil)
		s3 := c.dial("n3", "sub3", nil)
		for _, s := range []*client.Conn{s1, s3} {
			if err := s.Subscribe(ctx, "news"); err != nil {
				t.Fatalf("subscribe in insecure mode: %v", err)
			}
		}
		got, err := alice.Publish(ctx, "news", "hello")
		if err != nil || got != 2 {
			t.Fatalf("publish: delivered_nodes %d, err %v; want 2", got, err)
		}
		for _, s := range []*client.Conn{s1, s3} {
			select {
			case p := <-s.Publications():
				if p.Topic != "news" || p.From != "alice" || string(p.Data) != `"hello"` {
					t.Fatalf("publication %+v", p)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("publication not delivered")
			}
		}
	})
}
