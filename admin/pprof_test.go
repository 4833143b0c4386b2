package admin

import (
	"net/http"
	"strings"
	"testing"
)

func TestPprofNeedsToken(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, method, path, token string
		status                    int
		bodyHas                   string
	}{
		{"index without token", "GET", "/debug/pprof/", "", http.StatusUnauthorized, ""},
		{"heap without token", "GET", "/debug/pprof/heap", "", http.StatusUnauthorized, ""},
		{"cpu profile with a wrong token", "GET", "/debug/pprof/profile?seconds=1", "wrong", http.StatusUnauthorized, ""},
		{"cmdline without token", "GET", "/debug/pprof/cmdline", "", http.StatusUnauthorized, ""},
		{"index", "GET", "/debug/pprof/", testToken, http.StatusOK, "goroutine"},
		{"goroutine dump", "GET", "/debug/pprof/goroutine?debug=1", testToken, http.StatusOK, "goroutine profile:"},
		{"heap", "GET", "/debug/pprof/heap", testToken, http.StatusOK, ""},
		{"cmdline", "GET", "/debug/pprof/cmdline", testToken, http.StatusOK, ""},
		{"symbol", "POST", "/debug/pprof/symbol", testToken, http.StatusOK, "num_symbols"},
		{"unknown profile", "GET", "/debug/pprof/nonsense", testToken, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(t, tt.method, tt.path, "", tt.token)
			if r.Status != tt.status {
				t.Fatalf("%s %s: status %d, want %d: %.200s", tt.method, tt.path, r.Status, tt.status, r.Body)
			}
			if tt.status == http.StatusUnauthorized {
				if code := mustErrorShape(t, r); code != "unauthorized" {
					t.Errorf("error code %q, want unauthorized", code)
				}
			}
			if !strings.Contains(string(r.Body), tt.bodyHas) {
				t.Errorf("body lacks %q: %.200s", tt.bodyHas, r.Body)
			}
		})
	}
}
