package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Connection hygiene shared by the public and the admin listener. The
// timeouts keep a client that sends nothing (or a body that never comes)
// from holding a socket; the caps keep one node, and one client address,
// from being handed more sockets than the process can hold.

// closePolicy is the WebSocket close code for a refused connection (docs/PROTOCOL.md).
const closePolicy = 4008

// AdminMaxConnections caps the admin listener's open connections when
// --max-connections is set. The admin listener is counted apart from the
// client connections, so that a node full of clients still answers its
// health probes, its metrics scrapes and its operators.
const AdminMaxConnections = 1024

// adminConnectionCap is the admin listener's cap for a --max-connections
// of max (0: no cap on either).
func adminConnectionCap(max int) int {
	if max <= 0 {
		return 0
	}
	return AdminMaxConnections
}

// adminPerAddrCap is the admin listener's cap per client address for a
// --max-connections-per-addr of perAddr: a quarter of its total at most, so
// that one address cannot take the room its probes, scrapes and operators
// need.
func adminPerAddrCap(perAddr int) int {
	if perAddr <= 0 {
		return 0
	}
	return min(perAddr, AdminMaxConnections/4)
}

// connLimiter counts the open TCP connections of one listener, in total
// and per remote IP. It never blocks Accept: a
// connection over a cap is accepted and marked, so that the HTTP layer can
// answer it with a clear status (or close code) instead of a reset.
// Connections beyond hardLimit are closed at once: answering them would
// itself cost sockets.
type connLimiter struct {
	max, perAddr int    // 0: no cap
	full         string // why a connection over max is refused

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

func newConnLimiter(max, perAddr int, full string) *connLimiter {
	return &connLimiter{max: max, perAddr: perAddr, full: full, byAddr: make(map[string]int)}
}

// hardLimit is the most connections held at once, refused ones included.
func (l *connLimiter) hardLimit() int {
	if l.max <= 0 {
		return 0
	}
	return l.max + l.max/4 + 16
}

// acquire counts a new connection from host and says why it is over a cap
// ("" when it is not), or drop when it must be closed unanswered. counted
// says whether it takes a place in the listener's total: one over its
// address's cap does not, or an address that opened sockets past its cap
// (idle ones are held until the header timeout) would lock every other
// address out of the listener.
func (l *connLimiter) acquire(host string) (over string, drop, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perAddr > 0 && l.byAddr[host] >= l.perAddr {
		if l.byAddr[host] >= l.perAddr+l.perAddr/4+16 {
			return "", true, false
		}
		l.byAddr[host]++
		return "too many connections from your address (--max-connections-per-addr)", false, false
	}
	if h := l.hardLimit(); h > 0 && l.total >= h {
		return "", true, false
	}
	l.total++
	l.byAddr[host]++
	if l.max > 0 && l.total > l.max {
		over = l.full
	}
	return over, false, true
}

func (l *connLimiter) release(host string, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if counted {
		l.total--
	}
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
}

// limitedListener counts every accepted connection with its limiter.
type limitedListener struct {
	net.Listener
	l *connLimiter
}

func (ln limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := remoteHost(c.RemoteAddr())
		over, drop, counted := ln.l.acquire(host)
		if drop {
			_ = c.Close()
			continue
		}
		return &countedConn{Conn: c, l: ln.l, host: host, over: over, counted: counted}, nil
	}
}

func remoteHost(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// countedConn releases its slot once, on the first Close (WebSocket
// connections close it long after the HTTP server hijacked it).
type countedConn struct {
	net.Conn
	l       *connLimiter
	host    string
	over    string // why this connection is refused; "" if it is not
	counted bool   // it holds a place in the listener's total
	once    sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.release(c.host, c.counted) })
	return c.Conn.Close()
}

type connKey struct{}

// connContext remembers the accepted connection in each request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// overLimit says why the request's connection is over a cap, or "".
func overLimit(r *http.Request) string {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	for c != nil {
		if cc, ok := c.(*countedConn); ok {
			return cc.over
		}
		nc, ok := c.(interface{ NetConn() net.Conn }) // *tls.Conn, peekedConn
		if !ok {
			return ""
		}
		c = nc.NetConn()
	}
	return ""
}

// refuseOverLimit answers requests on connections over a cap: WebSocket
// upgrades are accepted and closed with 4008 and the reason (a browser
// cannot read an HTTP status of a failed upgrade), anything else gets 503
// and the connection closes. Node links (exempt) are let through: they
// authenticate themselves and a full node must still reach its peers.
func refuseOverLimit(next http.Handler, exempt string) http.Handler {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }} // closed at once: nothing to protect
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reason := overLimit(r)
		if reason == "" || (exempt != "" && r.URL.Path == exempt) {
			next.ServeHTTP(w, r)
			return
		}
		if websocket.IsWebSocketUpgrade(r) {
			if ws, err := up.Upgrade(w, r, nil); err == nil {
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closePolicy, reason),
					time.Now().Add(time.Second))
				_ = ws.Close()
			}
			return
		}
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "unavailable", "message": reason}})
	})
}

// bodyDeadline gives a request body timeout to read: the HTTP server's
// ReadTimeout cannot be used, since it would also cut SSE streams and
// WebSocket connections. A request with a body must deliver it within d;
// the deadline is lifted as soon as the body has been read, so a slow
// handler is not cut.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d <= 0 || r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && len(r.TransferEncoding) == 0) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body has been read to its
// end.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
