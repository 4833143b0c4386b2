package conn

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/shardgate/shardgate/metrics"
)

// Server is the WebSocket endpoint of one node. Create it with NewServer,
// mount Handler, and call Shutdown to close every connection and stop its
// goroutines.
type Server struct {
	cfg      Config
	backend  Backend
	auth     *Authenticator
	m        *metrics.Metrics
	log      *slog.Logger
	upgrader websocket.Upgrader
	origins  originPolicy

	// ctx is cancelled when Shutdown gives up waiting; every Backend call
	// and every goroutine of the server derives from it.
	ctx    context.Context
	cancel context.CancelFunc
	stop   chan struct{} // closed by Shutdown: stops the ping ticker
	wg     sync.WaitGroup
	nextID atomic.Uint64
	// answerBytes is what every connection's answerB adds up to: the
	// answers queued for clients that have not read them yet.
	answerBytes atomic.Int64

	mu     sync.RWMutex
	closed bool
	conns  map[*conn]struct{}
	// keys and topics map to copy-on-write slices: a reader may keep the
	// slice it got after releasing mu, because nobody writes into it again.
	keys   map[string][]*conn
	topics map[string][]*conn
	// sendLims holds each connected key's send quota, shared by all its
	// connections here; it goes with the key's last connection.
	sendLims map[string]*rate.Limiter
}

// writeBuffers is shared by every server in the process: gorilla takes a
// buffer only while a message is being written, so idle connections hold
// none.
var writeBuffers sync.Pool

// NewServer builds the endpoint. Zero fields of cfg take their defaults; a
// cfg that Validate rejects is a programming error and panics, so check it
// first. auth and m are required.
func NewServer(cfg Config, backend Backend, auth *Authenticator, m *metrics.Metrics) *Server {
	if err := cfg.Validate(); err != nil {
		panic("conn: invalid config: " + err.Error())
	}
	if backend == nil || auth == nil || m == nil {
		panic("conn: NewServer needs a backend, an authenticator and metrics")
	}
	cfg = cfg.withDefaults()
	origins, _ := parseOrigins(cfg.AllowedOrigins) // checked by Validate
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, backend: backend, auth: auth, m: m, log: cfg.Logger, origins: origins,
		ctx: ctx, cancel: cancel, stop: make(chan struct{}),
		conns:  make(map[*conn]struct{}),
		keys:   make(map[string][]*conn),
		topics: make(map[string][]*conn),

		sendLims: make(map[string]*rate.Limiter),
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:    1024,
		WriteBufferSize:   1024,
		WriteBufferPool:   &writeBuffers,
		EnableCompression: false, // a read limit does not bound inflated size
		// serveWS checks the origin itself and refuses with a reason; the
		// upgrader only ever sees allowed origins or refusals.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeHTTPError(w, status, upgradeRefusal(r, reason))
		},
	}
	s.wg.Go(s.pingLoop)
	return s
}

// upgradeRefusal says in one sentence why a request to the WebSocket
// endpoint could not be upgraded: most often it is a plain request (a
// browser's address bar, curl), which the library's own text describes in
// terms of headers.
func upgradeRefusal(r *http.Request, reason error) string {
	if !websocket.IsWebSocketUpgrade(r) {
		return "this is the WebSocket endpoint: connect with a WebSocket client (a GET with Connection: Upgrade and Upgrade: websocket)"
	}
	return "cannot open a WebSocket: " + strings.TrimPrefix(reason.Error(), "websocket: ")
}

// OriginAllowed reports whether r comes from an origin allowed on this
// node (same origin, no Origin header, or one of Config.AllowedOrigins), so
// other public endpoints can answer cross-origin requests the same way.
func (s *Server) OriginAllowed(r *http.Request) bool {
	ok, _ := s.origins.allowed(r)
	return ok
}

// Handler serves GET /v1/ws.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", s.serveWS)
	return mux
}

// Connections is the number of open connections on this node.
func (s *Server) Connections() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// LocalKeys lists the keys with at least one connection on this node.
func (s *Server) LocalKeys() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	return keys
}

// register adds c to the registry and counts its reader goroutine in wg,
// which the reader's end counts out.
// It refuses when the server is shutting down or the key has too many
// connections, returning the close code to use.
func (s *Server) register(c *conn) (closeCode int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return websocket.CloseGoingAway, "node shutting down"
	}
	if len(s.keys[c.key]) >= s.cfg.MaxConnsPerKey {
		return closePolicy, "too many connections for this key"
	}
	s.conns[c] = struct{}{}
	s.keys[c.key] = append(slices.Clip(s.keys[c.key]), c)
	if s.sendLims[c.key] == nil {
		s.sendLims[c.key] = rate.NewLimiter(s.cfg.UserSendRate, s.cfg.UserSendBurst)
	}
	c.sendLim = s.sendLims[c.key]
	s.wg.Add(1) // under mu: Shutdown cannot be waiting yet
	return 0, ""
}

// unregister removes c and its subscriptions, telling the engine about
// topics that lost their last local subscriber.
func (s *Server) unregister(c *conn, topics []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if rest := without(s.keys[c.key], c); len(rest) > 0 {
		s.keys[c.key] = rest
	} else {
		delete(s.keys, c.key)
		delete(s.sendLims, c.key)
	}
	for _, t := range topics {
		if rest := without(s.topics[t], c); len(rest) > 0 {
			s.topics[t] = rest
		} else if _, ok := s.topics[t]; ok {
			delete(s.topics, t)
			s.backend.TopicInterest(t, false)
		}
	}
}

// without returns a new slice holding list minus c (copy-on-write).
func without(list []*conn, c *conn) []*conn {
	out := make([]*conn, 0, len(list))
	for _, x := range list {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}

// conns of key, safe to range over after the lock is released.
func (s *Server) connsOf(key string) []*conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[key]
}

// Moved tells key's local connections that its home is now at url.
func (s *Server) Moved(key, url, reason string) {
	frame, err := encodeNotification("moved", movedParams{URL: url, Reason: reason})
	if err != nil {
		return
	}
	for _, c := range s.connsOf(key) {
		c.enqueueNotice(frame)
	}
}

type movedParams struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
}
