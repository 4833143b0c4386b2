package link

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// An envelope the other side cannot decode fails its own call and nothing
// else: the connection, and every call before and after it, go on. Go's
// decoder refuses JSON nested deeper than 10,000 levels, so a body of
// 10,000 levels encodes fine here but arrives inside an envelope too deep
// to decode.
func TestUndecodableEnvelopeFailsOnlyItsCall(t *testing.T) {
	deep := json.RawMessage(strings.Repeat("[", 10000) + strings.Repeat("]", 10000))
	h := HandlerFunc(func(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
		if method == "deep-answer" {
			return deep, nil
		}
		return echoHandler(ctx, from, method, body)
	})
	a := mustNode(t, "a", h, nil)
	b := mustNode(t, "b", h, nil)
	link(a, b)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := a.m.Call(ctx, "b", "echo", 1, nil); err != nil {
		t.Fatal(err)
	}
	out, in := connOf(t, a.m, "b"), inboundOf(t, b.m, "a")

	// A request b cannot decode: answered with an error, the handler never runs.
	err := a.m.Call(ctx, "b", "echo", deep, nil)
	if e := mustKind(t, err, shardgate.KindInvalid); !strings.Contains(e.Message, "b could not decode request echo") {
		t.Fatalf("deep request: %v", err)
	}
	// An answer a cannot decode: the call fails.
	err = a.m.Call(ctx, "b", "deep-answer", nil, nil)
	if e := mustKind(t, err, shardgate.KindInternal); !strings.Contains(e.Message, "answer from b could not be decoded") {
		t.Fatalf("deep answer: %v", err)
	}
	// A notification b cannot decode, and an envelope that is not JSON at
	// all: dropped.
	if err := a.m.Notify(ctx, "b", "echo", deep); err != nil {
		t.Fatal(err)
	}
	if err := out.enqueue([]byte(`garbage`)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "b to count 3 bad envelopes", func() bool { return b.m.stats.badEnvelopes.Load() == 3 })

	// The same connections still carry calls both ways.
	var got echoReply
	if err := a.m.Call(ctx, "b", "echo", "after", &got); err != nil || string(got.Body) != `"after"` {
		t.Fatalf("call after the bad envelopes: %+v %v", got, err)
	}
	if err := b.m.Call(ctx, "a", "echo", "back", nil); err != nil {
		t.Fatal(err)
	}
	if connOf(t, a.m, "b") != out || inboundOf(t, b.m, "a") != in {
		t.Fatal("a bad envelope replaced the connection")
	}
	if n := a.m.stats.badEnvelopes.Load(); n != 1 {
		t.Fatalf("a counted %d bad envelopes, want 1 (the deep answer)", n)
	}
}

func connOf(t *testing.T, m *Mesh, peer string) *conn {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[peer]
	if p == nil || p.conn == nil {
		t.Fatalf("no connection to %s", peer)
	}
	return p.conn
}

func inboundOf(t *testing.T, m *Mesh, peer string) *conn {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.inbound[peer]
	if c == nil {
		t.Fatalf("no connection from %s", peer)
	}
	return c
}
