package wholepath

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/conn"
	"github.com/shardgate/shardgate/link"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/store"
)

// rig is two nodes reduced to what a message touches: the entry node's
// client endpoint and node link, and the home's node link and store.
type rig struct {
	st        *store.Store
	entry     *link.Mesh
	home      *link.Mesh
	linkDials atomic.Int64 // WebSocket upgrades on the home's link endpoint
	wsURL     string
}

const homeName, entryName = "home", "entry"

// sendBody is what the entry node forwards to the home.
type sendBody struct {
	From string          `json:"from"`
	To   string          `json:"to"`
	Data json.RawMessage `json:"data"`
	ID   string          `json:"id,omitempty"`
}

type historyBody struct {
	Key   string `json:"key"`
	Since uint64 `json:"since"`
	Limit int    `json:"limit"`
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	r := &rig{}
	var err error
	cfg := store.DefaultConfig(filepath.Join(tb.TempDir(), "store.db"))
	cfg.NoSync = true
	if r.st, err = store.Open(cfg); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.st.Close() })

	if r.home, err = link.New(link.Config{Name: homeName, Handler: link.HandlerFunc(r.serveHome)}); err != nil {
		tb.Fatal(err)
	}
	homeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.linkDials.Add(1)
		r.home.ServeHTTP(w, req)
	}))
	tb.Cleanup(homeSrv.Close)
	tb.Cleanup(func() { r.home.Close() })
	if r.entry, err = link.New(link.Config{Name: entryName}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.entry.Close() })
	r.entry.SetPeer(homeName, strings.TrimPrefix(homeSrv.URL, "http://"))

	auth, err := conn.NewAuthenticator(conn.AuthConfig{Insecure: true})
	if err != nil {
		tb.Fatal(err)
	}
	ccfg := conn.DefaultConfig()
	ccfg.NodeName = entryName
	ccfg.RateLimit, ccfg.UserSendRate = rate.Inf, rate.Inf
	ccfg.Logger = slog.New(slog.DiscardHandler)
	srv := conn.NewServer(ccfg, backend{r}, auth, metrics.New())
	front := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, nil)
		front.Close()
	})
	r.wsURL = "ws" + strings.TrimPrefix(front.URL, "http") + "/v1/ws?user=" + sender
	return r
}

// serveHome is the home's side of the link: a single writer per key is
// not needed here, the fuzzer sends one frame at a time.
func (r *rig) serveHome(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	switch method {
	case "send":
		var b sendBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, shardgate.Errorf(shardgate.KindInvalid, "bad send: %w", err)
		}
		if err := r.st.Writable(); err != nil {
			return nil, err
		}
		last, err := r.st.LastSeq(0, b.To)
		if err != nil {
			return nil, err
		}
		msg := shardgate.Message{Seq: last + 1, From: b.From, Data: b.Data, ID: b.ID, TS: time.Now().UnixMilli()}
		if err := r.st.Apply(ctx, []store.Op{{Kind: store.OpMessage, Shard: 0, Key: b.To, Msg: msg}}); err != nil {
			return nil, err
		}
		return shardgate.SendResult{To: b.To, Seq: msg.Seq}, nil
	case "history":
		var b historyBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, shardgate.Errorf(shardgate.KindInvalid, "bad history: %w", err)
		}
		return r.st.History(0, b.Key, b.Since, b.Limit)
	}
	return nil, shardgate.Errorf(shardgate.KindNotFound, "no method %s", method)
}

// backend is the entry node's engine: every inbox lives on the home.
type backend struct{ r *rig }

func (b backend) Send(ctx context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error) {
	var res shardgate.SendResult
	err := b.r.entry.Call(ctx, homeName, "send", sendBody{From: from, To: to, Data: data, ID: id}, &res)
	return res, err
}

func (b backend) History(ctx context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error) {
	var res shardgate.HistoryResult
	err := b.r.entry.Call(ctx, homeName, "history", historyBody{Key: key, Since: since, Limit: limit}, &res)
	return res, err
}

func (backend) Ack(context.Context, string, uint64) error      { return nil }
func (backend) Cursor(context.Context, string) (uint64, error) { return 0, nil }
func (backend) Detach(string)                                  {}
func (backend) TopicInterest(string, bool)                     {}
func (backend) Publish(context.Context, string, string, json.RawMessage) (int, error) {
	return 0, nil
}

func (backend) Presence(_ context.Context, keys []string) (map[string]shardgate.Presence, error) {
	return map[string]shardgate.Presence{}, nil
}

func (b backend) Attach(ctx context.Context, key string) (shardgate.Attachment, error) {
	h, err := b.History(ctx, key, ^uint64(0)-1, 1)
	if err != nil {
		return shardgate.Attachment{}, err
	}
	return shardgate.Attachment{Node: entryName, LastSeq: h.LastSeq, FirstSeq: h.FirstSeq}, nil
}

// readBack reads key's message seq from the home, through the link.
func (r *rig) readBack(tb testing.TB, key string, seq uint64) shardgate.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := backend{r}.History(ctx, key, seq-1, 1)
	if err != nil {
		tb.Fatalf("read back %q seq %d: %v", key, seq, err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Seq != seq {
		tb.Fatalf("read back %q seq %d: got %+v", key, seq, h)
	}
	return h.Messages[0]
}

func (r *rig) lastSeq(tb testing.TB, key string) uint64 {
	tb.Helper()
	if shardgate.ValidKey(key) != nil {
		return 0
	}
	last, err := r.st.LastSeq(0, key)
	if err != nil && !errors.Is(err, shardgate.ErrInvalid) {
		tb.Fatalf("last seq of %q: %v", key, err)
	}
	return last
}
