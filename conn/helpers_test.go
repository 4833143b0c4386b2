package conn

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("test-secret-0123456789abcdef0123")

// harness is one Server on an httptest listener (127.0.0.1) with a fake
// engine behind it.
type harness struct {
	srv *Server
	be  *fakeBackend
	hs  *httptest.Server
	m   *metrics.Metrics
	url string // ws://…/v1/ws
	// sockets watches the write deadlines set on the server's side of
	// every connection's socket.
	sockets socketStats
}

// testConfig is fast and strict enough for tests.
func testConfig() Config {
	c := DefaultConfig()
	c.NodeName = "n1"
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return c
}

func newHarness(t testing.TB, mutate func(*Config, *AuthConfig)) *harness {
	t.Helper()
	cfg := testConfig()
	acfg := AuthConfig{Secret: testSecret}
	if mutate != nil {
		mutate(&cfg, &acfg)
	}
	auth, err := NewAuthenticator(acfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{be: newFakeBackend(), m: metrics.New()}
	h.srv = NewServer(cfg, h.be, auth, h.m)
	h.be.srv = h.srv
	h.hs = httptest.NewUnstartedServer(h.srv.Handler())
	h.hs.Listener = &countingListener{Listener: h.hs.Listener, st: &h.sockets}
	h.hs.Start()
	h.url = "ws" + strings.TrimPrefix(h.hs.URL, "http") + "/v1/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx, nil); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		h.hs.Close()
	})
	return h
}

// token mints a token for key that may send anywhere and subscribe and
// publish to any one-level topic.
func (h *harness) token(t testing.TB, key string) string {
	t.Helper()
	return mustToken(t, key, nil, []string{"*"}, []string{"*"})
}

func mustToken(t testing.TB, key string, send, sub, pub []string) string {
	t.Helper()
	tok, err := MintToken(testSecret, key, time.Hour, send, sub, pub)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dial connects key through the SDK and closes it at the end of the test.
func (h *harness) dial(t testing.TB, key string, opts client.Options) *client.Conn {
	t.Helper()
	if opts.Token == "" && opts.User == "" {
		opts.Token = h.token(t, key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, h.url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", key, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// raw connects key with a bare gorilla connection, reads the welcome frame
// and returns both.
func (h *harness) raw(t testing.TB, key string, query ...string) (*websocket.Conn, map[string]any) {
	t.Helper()
	hdr := http.Header{"Authorization": {"Bearer " + h.token(t, key)}}
	ws, _, err := websocket.DefaultDialer.Dial(h.url+strings.Join(query, ""), hdr)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, readFrame(t, ws)
}

// unread holds, per connection, the notifications of a batch frame that
// readFrame has not returned yet.
var unread sync.Map // *websocket.Conn → []map[string]any

// readFrame reads one JSON-RPC object within 5 s. The server may send
// notifications as a batch (a JSON array); its elements are returned one
// by one, in order.
func readFrame(t testing.TB, ws *websocket.Conn) map[string]any {
	t.Helper()
	if v, ok := unread.Load(ws); ok {
		if rest := v.([]map[string]any); len(rest) > 0 {
			unread.Store(ws, rest[1:])
			return rest[0]
		}
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []map[string]any
		if err := json.Unmarshal(data, &batch); err != nil || len(batch) == 0 {
			t.Fatalf("batch frame %s is not a JSON array of objects: %v", data, err)
		}
		unread.Store(ws, batch[1:])
		return batch[0]
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("frame %s is not JSON: %v", data, err)
	}
	return m
}

// notes reads frames until it holds n JSON-RPC objects, flattening the
// batches (JSON arrays) that a server may send notifications in.
func notes(t testing.TB, ws *websocket.Conn, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for len(out) < n {
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read frame after %d of %d objects: %v", len(out), n, err)
		}
		if len(data) > 0 && data[0] == '[' {
			var batch []map[string]any
			if err := json.Unmarshal(data, &batch); err != nil {
				t.Fatalf("batch %s is not JSON: %v", data, err)
			}
			out = append(out, batch...)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("frame %s is not JSON: %v", data, err)
		}
		out = append(out, m)
	}
	return out
}

// rpc sends a raw frame and returns the response.
func rpc(t testing.TB, ws *websocket.Conn, frame string) map[string]any {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("write: %v", err)
	}
	return readFrame(t, ws)
}

// errCode is the error code of a response, 0 when it has none.
func errCode(resp map[string]any) int {
	e, ok := resp["error"].(map[string]any)
	if !ok {
		return 0
	}
	code, _ := e["code"].(float64)
	return int(code)
}

// waitClosed waits for c to end and returns its close code.
func waitClosed(t testing.TB, c *client.Conn) int {
	t.Helper()
	select {
	case <-c.Done():
		return c.CloseCode()
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not close")
		return 0
	}
}

// counter reads a metric's value; label selects one series of a vector.
func counter(m *metrics.Metrics, name, label string) float64 {
	mfs, _ := m.Registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			if label != "" && (len(s.GetLabel()) == 0 || s.GetLabel()[0].GetValue() != label) {
				continue
			}
			if s.GetCounter() != nil {
				return s.GetCounter().GetValue()
			}
			return s.GetGauge().GetValue()
		}
	}
	return 0
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}
