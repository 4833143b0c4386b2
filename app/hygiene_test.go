package app

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The limit every test below gives the server to cut a connection; the
// configured timeouts are far shorter, so only a missing timeout fails.
const cutWithin = 30 * time.Second

func fastTimeouts(c *Config) {
	c.ReadHeaderTimeout = 300 * time.Millisecond
	c.BodyTimeout = 300 * time.Millisecond
	c.IdleTimeout = 300 * time.Millisecond
}

// TestStalledRequestsAreCut: a body that never comes, headers that never
// end and an idle keep-alive connection are all closed, on both listeners.
func TestStalledRequestsAreCut(t *testing.T) {
	s := startNode(t, fastTimeouts)
	listeners := map[string]string{"public": hostOf(s.PublicURL()), "admin": hostOf(s.AdminURL())}
	stalls := map[string]func(t *testing.T, addr string){
		"body never sent": func(t *testing.T, addr string) {
			c := rawConn(t, "", addr)
			io.WriteString(c, "POST /v1/users/alice/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
				"Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n{\"data\":")
			waitClosed(t, c, cutWithin)
		},
		"headers never end": func(t *testing.T, addr string) {
			c := rawConn(t, "", addr)
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
			waitClosed(t, c, cutWithin)
		},
		"idle keep-alive": func(t *testing.T, addr string) {
			c := rawConn(t, "", addr)
			br := bufio.NewReader(c)
			if resp, _ := get(t, c, br, "/healthz"); resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %s", resp.Status)
			}
			waitClosed(t, c, cutWithin)
		},
		"websocket upgrade never finished": func(t *testing.T, addr string) {
			c := rawConn(t, "", addr)
			io.WriteString(c, "GET /v1/ws?user=alice HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
			waitClosed(t, c, cutWithin)
		},
	}
	for lname, addr := range listeners {
		for sname, stall := range stalls {
			t.Run(lname+"/"+sname, func(t *testing.T) {
				t.Parallel()
				stall(t, addr)
			})
		}
	}
}

// TestSlowHandlerAfterBodyIsNotCut: the body deadline ends with the body;
// a request whose body arrived keeps its connection for the answer.
func TestBodyDeadlineLiftedOnceBodyIsRead(t *testing.T) {
	s := startNode(t, func(c *Config) { fastTimeouts(c); c.IdleTimeout = time.Minute })
	c := rawConn(t, "", hostOf(s.AdminURL()))
	br := bufio.NewReader(c)
	body := `{"data":"hi"}`
	io.WriteString(c, "POST /v1/users/alice/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"+
		"Content-Length: 13\r\n\r\n"+body)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("send: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	// Wait past the body deadline, then use the same connection again.
	time.Sleep(600 * time.Millisecond) // longer than BodyTimeout, on purpose
	if r, _ := get(t, c, br, "/healthz"); r.StatusCode != http.StatusOK {
		t.Fatalf("second request: %s", r.Status)
	}
}

// TestConnectionCaps: the node cap on client connections and the
// per-address cap refuse with 503 and a reason, or close 4008 on a
// WebSocket, and free slots are reused. The admin listener has a cap of its
// own: a node full of clients still answers its health probes, metrics and
// operators.
func TestConnectionCaps(t *testing.T) {
	t.Run("per node", func(t *testing.T) {
		s := startNode(t, func(c *Config) { c.MaxConnections = 3; c.MaxConnectionsPerAddr = 0 })
		pub, adm := hostOf(s.PublicURL()), hostOf(s.AdminURL())
		var held []*bufio.Reader
		for i, addr := range []string{pub, pub, pub, adm, adm, adm} {
			c := rawConn(t, "", addr)
			br := bufio.NewReader(c)
			if resp, _ := get(t, c, br, "/healthz"); resp.StatusCode != http.StatusOK {
				t.Fatalf("connection %d (to %s) refused: %s", i, addr, resp.Status)
			}
			held = append(held, br)
		}
		c := rawConn(t, "", pub)
		resp, body := get(t, c, bufio.NewReader(c), "/healthz")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "--max-connections") {
			t.Fatalf("over the node cap: %s %s", resp.Status, body)
		}
		expectClose4008(t, s.WSURL()+"?user=alice", "--max-connections")
		for _, path := range []string{"/healthz", "/metrics"} {
			c := rawConn(t, "", adm)
			if resp, body := get(t, c, bufio.NewReader(c), path); resp.StatusCode != http.StatusOK {
				t.Fatalf("admin %s on a node at its client cap: %s %s", path, resp.Status, body)
			}
		}
	})
	t.Run("per address", func(t *testing.T) {
		s := startNode(t, func(c *Config) { c.MaxConnections = 0; c.MaxConnectionsPerAddr = 2 })
		pub := hostOf(s.PublicURL())
		var held []net.Conn
		for i := 0; i < 2; i++ {
			c := rawConn(t, "127.0.0.1", pub)
			if resp, _ := get(t, c, bufio.NewReader(c), "/healthz"); resp.StatusCode != http.StatusOK {
				t.Fatalf("connection %d refused: %s", i, resp.Status)
			}
			held = append(held, c)
		}
		c := rawConn(t, "127.0.0.1", pub)
		resp, body := get(t, c, bufio.NewReader(c), "/healthz")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "your address") {
			t.Fatalf("third connection from one address: %s %s", resp.Status, body)
		}
		c.Close()
		other := rawConn(t, "127.0.0.2", pub)
		if resp, _ := get(t, other, bufio.NewReader(other), "/healthz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("another address refused: %s", resp.Status)
		}
		// A slot is given back once its connection closes.
		held[0].Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			again := rawConn(t, "127.0.0.1", pub)
			resp, _ := get(t, again, bufio.NewReader(again), "/healthz")
			again.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a closed connection's slot was never released: %s", resp.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func expectClose4008(t *testing.T, url, reason string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("upgrade over the cap: %v (want an upgrade closed with 4008)", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closePolicy || !strings.Contains(ce.Text, reason) {
		t.Fatalf("over the cap: %v, want close 4008 naming %s", err, reason)
	}
}

// An admin call sent to the public listener (ctl or curl given the wrong
// port) is told where the admin API is.
func TestAdminCallOnThePublicListenerIsRedirectedInWords(t *testing.T) {
	s := startNode(t, nil)
	res, err := http.Get(s.PublicURL() + "/v1/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "admin listener (--admin-addr)") {
		t.Errorf("GET /v1/cluster on the public listener: %s %s, want 404 naming the admin listener", res.Status, body)
	}
}
