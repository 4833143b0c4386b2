package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzBody posts body to path through the whole handler and holds it to the
// rules for input: an answer is 200 or a JSON error; a refused body never
// reaches the backend; an accepted one reaches it with data that is JSON and
// not null.
func fuzzBody(f *testing.F, path string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		h.fake.reset()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		calls := h.fake.Calls()
		switch rec.Code {
		case http.StatusOK:
			if len(calls) != 1 {
				t.Fatalf("accepted %q but the backend saw %d calls", body, len(calls))
			}
			if d := calls[0].Data; d != "" && !json.Valid([]byte(d)) {
				t.Fatalf("accepted %q and passed on data %q", body, d)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(calls) != 0 {
				t.Fatalf("refused %q but the backend saw %+v", body, calls)
			}
			var e errorJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("refusal of %q is not the error shape: %s", body, rec.Body)
			}
		default:
			t.Fatalf("%q: unexpected status %d: %s", body, rec.Code, rec.Body)
		}
	})
}

func FuzzSendBody(f *testing.F) {
	fuzzBody(f, "/v1/users/bob/messages",
		`{"data":{"x":1},"from":"alice","id":"m1"}`, `{"data":null}`, `{"data":1,"from":""}`, `{}`, `[`,
		`{"data":"\ud800"}`, `{"data":1,"id":5}`, `{"data":1} {}`, `{"DATA":1}`, `{"data":1,"from":"\u0000"}`)
}

func FuzzPublishBody(f *testing.F) {
	fuzzBody(f, "/v1/topics/news/messages",
		`{"data":[1,2,3],"from":"ops"}`, `{"data":true}`, `{"data":1,"id":"x"}`, `"data"`, `{"data":{}}`)
}

func FuzzMoveBody(f *testing.F) {
	fuzzBody(f, "/v1/partitions/3/move", `{"to":"n2"}`, `{"to":""}`, `{"to":null}`, `{"to":["n1"]}`, `{"to":"n2","x":1}`)
}
