package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shardgate/shardgate"
)

func errUnavailable(msg string) error { return shardgate.Errorf(shardgate.KindUnavailable, "%s", msg) }

func TestBearerToken(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		name, header string
		want         int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"wrong", "Bearer nope", http.StatusUnauthorized},
		{"prefix of the token", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"other scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"right", "Bearer " + testToken, http.StatusOK},
		{"scheme in lower case", "bearer " + testToken, http.StatusOK},
	} {
		req := httptest.NewRequest("POST", "/v1/rebalance", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		h.fake.reset()
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.want)
		}
		if tt.want == http.StatusUnauthorized {
			r := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
			if err := jsonUnmarshal(r.Body, &r.JSON); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if code := mustErrorShape(t, r); code != "unauthorized" {
				t.Errorf("%s: code %q", tt.name, code)
			}
			if len(h.fake.Calls()) != 0 {
				t.Errorf("%s: the backend was called without a valid token", tt.name)
			}
		}
	}
	// ?token= is only for the event stream, which browsers cannot give headers.
	if r := h.do(t, "GET", "/v1/cluster?token="+testToken, "", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("?token= accepted on /v1/cluster: %d", r.Status)
	}
	if r := h.do(t, "GET", "/v1/nope", "", ""); r.Status != http.StatusNotFound {
		t.Errorf("unknown /v1 path without a token: %d, want 404", r.Status)
	}
}

func TestOpenWhenNoTokenConfigured(t *testing.T) {
	h := newHarnessWith(t, Config{}, newFake(8, 2))
	if r := h.do(t, "GET", "/v1/cluster", "", ""); r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	if r := h.do(t, "GET", "/", "", ""); !strings.Contains(string(r.Body), `content="open"`) {
		t.Errorf("the page should know the API is open")
	}
}

func TestBadInputIsRefusedBeforeTheBackend(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("k", shardgate.MaxKeyBytes+1)
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/users/bob/messages", `{`, 400, "parse_error"},
		{"POST", "/v1/users/bob/messages", `{"data":1}{"data":2}`, 400, "parse_error"},
		{"POST", "/v1/users/bob/messages", ``, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `[]`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `null`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"dat":1}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"data":1,"from":5}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"data":1,"from":"` + long + `"}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"data":1,"id":"` + long + `"}`, 400, "invalid_argument"},
		{"POST", "/v1/users/" + long + "/messages", `{"data":1}`, 400, "invalid_argument"},
		{"POST", "/v1/users/%FF/messages", `{"data":1}`, 400, "invalid_argument"},
		{"GET", "/v1/users/bob/messages?since=abc", "", 400, "invalid_argument"},
		{"GET", "/v1/users/bob/messages?since=-1", "", 400, "invalid_argument"},
		{"GET", "/v1/users/bob/messages?limit=1.5", "", 400, "invalid_argument"},
		{"GET", "/v1/users/bob/messages?limit=0", "", 400, "invalid_argument"},
		{"GET", "/v1/users/bob/messages?limit=-5", "", 400, "invalid_argument"},
		{"GET", "/v1/users/bob/messages?limit=10001", "", 400, "invalid_argument"},
		{"GET", "/v1/users/" + long + "/presence", "", 400, "invalid_argument"},
		{"GET", "/v1/route", "", 400, "invalid_argument"},
		{"GET", "/v1/route?key=" + long, "", 400, "invalid_argument"},
		{"GET", "/v1/partitions/abc/history", "", 400, "invalid_argument"},
		{"POST", "/v1/partitions/-1/move", `{"to":"n1"}`, 400, "invalid_argument"},
		{"POST", "/v1/partitions/1.5/move", `{"to":"n1"}`, 400, "invalid_argument"},
		{"POST", "/v1/partitions/1/move", `{}`, 400, "invalid_argument"},
		{"POST", "/v1/partitions/1/move", `{"to":""}`, 400, "invalid_argument"},
		{"POST", "/v1/partitions/1/move", `{"to":7}`, 400, "invalid_argument"},
		{"POST", "/v1/partitions/1/move", `to=n1`, 400, "parse_error"},
		{"POST", "/v1/nodes/" + long + "/drain", "", 400, "invalid_argument"},
		{"POST", "/v1/topics/news/messages", `{"from":"x"}`, 400, "invalid_argument"},
		{"POST", "/v1/topics/" + long + "/messages", `{"data":1}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"data":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "too_large"},
		{"POST", "/v1/users/bob/messages", `{"data":` + nest(33) + `}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"data":` + nest(20000) + `}`, 400, "invalid_argument"},
		{"POST", "/v1/users/bob/messages", `{"data":` + strings.Repeat("[", 50), 400, "invalid_argument"},
		{"POST", "/v1/topics/news/messages", `{"data":` + nest(33) + `}`, 400, "invalid_argument"},
		{"POST", "/v1/partitions/1/move", `{"to":"n1","x":` + nest(40) + `}`, 400, "invalid_argument"},
		{"GET", "/v1/nope", "", 404, "not_found"},
		{"GET", "/nope", "", 404, "not_found"},
		{"POST", "/v1/users/bob", `{"data":1}`, 404, "not_found"},
		{"DELETE", "/v1/cluster", "", 405, "invalid_argument"},
		{"GET", "/v1/rebalance", "", 405, "invalid_argument"},
	}
	for _, tt := range tests {
		name := tt.method + " " + tt.path + " " + tt.body
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			h.fake.reset()
			r := h.do(t, tt.method, tt.path, tt.body, testToken)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if code := mustErrorShape(t, r); code != tt.code {
				t.Errorf("code %q, want %q", code, tt.code)
			}
			if calls := h.fake.Calls(); len(calls) != 0 {
				t.Errorf("the backend was called: %+v", calls)
			}
		})
	}
}

func nest(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// Data may nest 32 levels by default; the refusal says so.
func TestJSONDepthLimit(t *testing.T) {
	h := newHarness(t)
	if r := h.do(t, "POST", "/v1/users/bob/messages", `{"data":`+nest(32)+`}`, testToken); r.Status != http.StatusOK {
		t.Fatalf("data nested 32 deep: status %d %s", r.Status, r.Body)
	}
	r := h.do(t, "POST", "/v1/users/bob/messages", `{"data":`+nest(9998)+`}`, testToken)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "data may nest at most 32 levels") {
		t.Fatalf("data nested 9998 deep: %d %s", r.Status, r.Body)
	}
}

func TestBodyLimitIsOneMiB(t *testing.T) {
	h := newHarness(t)
	// 1,040,000 bytes: over 10^6, under 2^20.
	body := `{"data":"` + strings.Repeat("x", 1_040_000) + `"}`
	if r := h.do(t, "POST", "/v1/users/bob/messages", body, testToken); r.Status != http.StatusOK {
		t.Fatalf("a body under 1 MiB: status %d", r.Status)
	}
	// Without a Content-Length the limit applies while reading.
	h.fake.reset()
	big := `{"data":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	req := httptest.NewRequest("POST", "/v1/users/bob/messages", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), `"too_large"`) {
		t.Errorf("streamed oversized body: %d %s", rec.Code, rec.Body)
	}
	if len(h.fake.Calls()) != 0 {
		t.Errorf("the backend was called: %+v", h.fake.Calls())
	}
}

func TestCrossSiteActionsAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, hdr := range [][2]string{{"Origin", "http://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", "null"}} {
		req := httptest.NewRequest("POST", "/v1/rebalance", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set(hdr[0], hdr[1])
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s: %s: status %d, want 403", hdr[0], hdr[1], rec.Code)
		}
	}
	if len(h.fake.Calls()) != 0 {
		t.Errorf("the backend was called: %+v", h.fake.Calls())
	}
	req := httptest.NewRequest("POST", "/v1/rebalance", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Origin", "http://"+req.Host)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("same origin: status %d", rec.Code)
	}
}

func TestBackendErrorsMapByKind(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{shardgate.Errorf(shardgate.KindNotFound, "there is no node n9"), 404, "not_found"},
		{shardgate.Errorf(shardgate.KindUnavailable, "shard 7 is moving"), 503, "unavailable"},
		{shardgate.Errorf(shardgate.KindConflict, "n1 is the last active node"), 409, "conflict"},
		{shardgate.Errorf(shardgate.KindForbidden, "no"), 403, "forbidden"},
		{fmt.Errorf("drain: %w", shardgate.Errorf(shardgate.KindInvalid, "n2 is already draining")), 400, "invalid_argument"},
		{context.DeadlineExceeded, 503, "unavailable"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		h.fake.setErr(tt.err)
		for _, path := range []string{"/v1/nodes/n2/drain", "/v1/rebalance"} {
			r := h.do(t, "POST", path, "", testToken)
			if r.Status != tt.status {
				t.Errorf("%v on %s: status %d, want %d", tt.err, path, r.Status, tt.status)
				continue
			}
			if code := mustErrorShape(t, r); code != tt.code {
				t.Errorf("%v: code %q, want %q", tt.err, code, tt.code)
			}
			if msg := r.obj(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, shardgate.UserMessage(tt.err)) {
				t.Errorf("%v: message %q", tt.err, msg)
			}
		}
	}
	h.fake.setErr(shardgate.Errorf(shardgate.KindUnavailable, "no quorum"))
	if r := h.do(t, "GET", "/v1/cluster", "", testToken); r.Status != 503 {
		t.Errorf("cluster with a failing backend: %d", r.Status)
	}
}

func TestPanicBecomesAJSONErrorAndALogLine(t *testing.T) {
	h := newHarness(t)
	h.fake.mu.Lock()
	h.fake.panicMsg = "index out of range in the engine"
	h.fake.mu.Unlock()
	r := h.do(t, "POST", "/v1/rebalance", "", testToken)
	if r.Status != http.StatusInternalServerError {
		t.Fatalf("status %d", r.Status)
	}
	if code := mustErrorShape(t, r); code != "internal" {
		t.Errorf("code %q", code)
	}
	if strings.Contains(string(r.Body), "index out of range") {
		t.Errorf("the panic value reached the user: %s", r.Body)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "index out of range in the engine") || !strings.Contains(logs, "goroutine") {
		t.Errorf("the panic and its stack were not logged: %s", logs)
	}
}

// A body that is not valid UTF-8 is refused before anything is called: a
// message whose data held such bytes would break every client reading
// the inbox.
// A sender or id with a \u escape of half a surrogate pair is refused:
// decoded, it became U+FFFD, and two senders or ids were one. The data
// keeps such escapes.
func TestLoneSurrogateInABodyNameIsRefused(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ path, body, field string }{
		{"/v1/users/bob/messages", `{"data":1,"from":"x\ud800"}`, "from"},
		{"/v1/users/bob/messages", `{"data":1,"id":"\udc00"}`, "id"},
		{"/v1/topics/news/messages", `{"data":1,"from":"\ud800"}`, "from"},
	} {
		r := h.do(t, "POST", tc.path, tc.body, testToken)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.field+` holds a \\u escape of half a UTF-16 surrogate pair`) {
			t.Errorf("%s %s: %d %s, want 400 naming %s", tc.path, tc.body, r.Status, r.Body, tc.field)
		}
	}
	if len(h.fake.Calls()) != 0 {
		t.Errorf("the backend was called: %+v", h.fake.Calls())
	}
	if r := h.do(t, "POST", "/v1/users/bob/messages", `{"data":"\ud800"}`, testToken); r.Status != http.StatusOK {
		t.Errorf("data with a lone surrogate: %d %s", r.Status, r.Body)
	}
}

func TestBodyMustBeUTF8(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ path, body string }{
		{"/v1/users/bob/messages", "{\"data\":\"a\xffb\"}"},
		{"/v1/users/bob/messages", "{\"data\":1,\"from\":\"\xc3\"}"},
		{"/v1/topics/news/messages", "{\"data\":\"\xfe\"}"},
		{"/v1/partitions/1/move", "{\"to\":\"n\xff\"}"},
	} {
		r := h.do(t, "POST", tc.path, tc.body, testToken)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "UTF-8") {
			t.Errorf("%s %q: %d %s, want 400 about UTF-8", tc.path, tc.body, r.Status, r.Body)
		}
	}
	if len(h.fake.Calls()) != 0 {
		t.Errorf("the backend was called: %+v", h.fake.Calls())
	}
}
