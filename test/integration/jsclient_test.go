package integration

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/shardgate/shardgate/app"
	jsclient "github.com/shardgate/shardgate/clients/js"
)

// Every node serves the browser client on its public listener, importable
// from any origin; route look-ups answer allowed origins only.
func TestNodeServesBrowserClient(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, func(cfg *app.Config) {
		cfg.AllowedOrigins = []string{"http://app.example"}
		cfg.AdminToken = "0123456789abcdef-admin" // no loopback-only guard: any origin may import
	})
	base := c.node("n1").PublicURL()
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, tc := range []struct {
		path, contentType string
		body              []byte
	}{
		{"/v1/client.js", "text/javascript; charset=utf-8", jsclient.Module},
		{"/v1/client.d.ts", "application/typescript; charset=utf-8", jsclient.Types},
	} {
		resp, body := get(tc.path, map[string]string{"Origin": "http://elsewhere.example"})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.contentType || !bytes.Equal(body, tc.body) {
			t.Fatalf("%s: %d %q, %d bytes", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("ETag") == "" {
			t.Fatalf("%s: headers %v", tc.path, resp.Header)
		}
		again, _ := get(tc.path, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
		if again.StatusCode != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d, want 304", tc.path, again.StatusCode)
		}
	}
	for origin, want := range map[string]string{"http://app.example": "http://app.example", "http://evil.example": ""} {
		resp, _ := get("/v1/route?key=alice", map[string]string{"Origin": origin})
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != want {
			t.Errorf("route from %s: %d, CORS %q, want %q", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), want)
		}
	}
	if resp, _ := get("/demo/", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("demo page served by a node not in dev mode: %d", resp.StatusCode)
	}
}
