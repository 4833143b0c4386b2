package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/metrics"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testToken = "s3cret-admin-token"

type harness struct {
	srv  *Server
	fake *fakeBackend
	m    *metrics.Metrics
	logs *testutil.Buffer
}

// newHarness builds a server over a 271-shard, 3-node fake with the test
// token.
func newHarness(tb testing.TB) *harness {
	tb.Helper()
	return newHarnessWith(tb, Config{Token: testToken}, newFake(271, 3))
}

func newHarnessWith(tb testing.TB, cfg Config, f *fakeBackend) *harness {
	tb.Helper()
	logs := &testutil.Buffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m := metrics.New()
	return &harness{srv: New(cfg, f, m), fake: f, m: m, logs: logs}
}

// response is a recorded answer with its body decoded as generic JSON.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   any
}

// obj returns the decoded body as an object, failing the test otherwise.
func (r response) obj(tb testing.TB) map[string]any {
	tb.Helper()
	m, ok := r.JSON.(map[string]any)
	if !ok {
		tb.Fatalf("body is not a JSON object: %s", r.Body)
	}
	return m
}

// do sends one request straight to the handler, with the bearer token when
// token is not empty.
func (h *harness) do(tb testing.TB, method, path, body, token string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(res.Body, &res.JSON); err != nil {
			tb.Fatalf("%s %s: body is not JSON: %v: %s", method, path, err, res.Body)
		}
	}
	return res
}

// mustErrorShape checks {"error": {"code", "message"}} and returns the code.
func mustErrorShape(tb testing.TB, r response) string {
	tb.Helper()
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		tb.Fatalf("error is not JSON (%s): %s", r.Header.Get("Content-Type"), r.Body)
	}
	e, ok := r.obj(tb)["error"].(map[string]any)
	if !ok {
		tb.Fatalf("no error object: %s", r.Body)
	}
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if code == "" || msg == "" {
		tb.Fatalf("error without code or message: %s", r.Body)
	}
	if strings.Contains(string(r.Body), "goroutine ") {
		tb.Fatalf("a stack trace reached the user: %s", r.Body)
	}
	return code
}

// mustKeys fails unless the object has every key.
func mustKeys(tb testing.TB, what string, v any, keys ...string) {
	tb.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		tb.Fatalf("%s is not an object: %#v", what, v)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			tb.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
