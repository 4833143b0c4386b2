package conn

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A client that pings faster than its socket drains must not be closed as
// a slow consumer (4009 says the client did not read): a pong still queued
// takes the newest ping's payload instead of queueing another, as RFC 6455
// allows, so pongs never fill the send queue. The client still gets a pong
// for its last ping.
func TestPingFloodDoesNotFillTheSendQueue(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *AuthConfig) { c.SendQueue, c.HistoryPage = 8, 4 })
	ws, _ := h.raw(t, "alice")
	const pings = 20000
	payload := bytes.Repeat([]byte("p"), 120)
	last := []byte(strings.Repeat("L", 120))
	for i := range pings {
		p := payload
		if i == pings-1 {
			p = last
		}
		if err := ws.WriteControl(websocket.PingMessage, p, time.Now().Add(5*time.Second)); err != nil {
			t.Fatalf("ping %d: %v (the server closed the connection)", i, err)
		}
	}
	gotLast := make(chan struct{})
	ws.SetPongHandler(func(data string) error {
		if data == string(last) {
			select {
			case <-gotLast:
			default:
				close(gotLast)
			}
		}
		return nil
	})
	// Reading runs the pong handler; the first error ends the loop.
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	select {
	case <-gotLast:
	case err := <-readErr:
		t.Fatalf("connection ended before the last pong: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no pong for the last ping within 10 s")
	}
	ws.Close()
	<-readErr
}
