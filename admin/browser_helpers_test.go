//go:build browser

package admin

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/browsertest"
)

// newBrowser starts the dashboard tests' browser: a window large enough
// for the node table and the map side by side. Steps get the driver's
// default bound (30 s): timing 20 updates of a 1024-shard map took over
// 20 s on a 2-core machine under a load average of 30.
func newBrowser(t *testing.T) *browsertest.Browser {
	t.Helper()
	return browsertest.New(t, browsertest.Options{Width: 1440, Height: 1000})
}

// startServer serves h on a loopback port until the test ends.
func startServer(t *testing.T, h *harness) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.srv.Start(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
