package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheckFollowsTLS: with SHARDGATE_TLS_CERT set (the node's
// listeners serve TLS only) the probe speaks https to the admin address.
func TestHealthcheckFollowsTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("SHARDGATE_ADMIN_ADDR", strings.TrimPrefix(srv.URL, "https://"))
	t.Setenv("SHARDGATE_TLS_CERT", "")
	if err := runHealthcheck(nil, io.Discard, io.Discard); err == nil {
		t.Fatal("plain http probe of a TLS listener passed")
	}
	t.Setenv("SHARDGATE_TLS_CERT", "/etc/shardgate/cert.pem")
	if err := runHealthcheck(nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("https probe: %v", err)
	}
}
