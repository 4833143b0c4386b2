package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
)

// Backend is what the admin listener needs from the engine. Every method may
// be called concurrently from many requests; every error should be a
// *shardgate.Error so its Kind picks the HTTP status.
type Backend interface {
	Cluster(ctx context.Context) (shardgate.ClusterView, error)
	Partitions(ctx context.Context) (shardgate.PartitionsView, error)
	Route(ctx context.Context, key string) (shardgate.Route, error)
	Send(ctx context.Context, from, to string, data json.RawMessage, id string) (shardgate.SendResult, error)
	History(ctx context.Context, key string, since uint64, limit int) (shardgate.HistoryResult, error)
	Presence(ctx context.Context, keys []string) (map[string]shardgate.Presence, error)
	Publish(ctx context.Context, from, topic string, data json.RawMessage) (int, error)
	// Act plans an operator action and, unless a.DryRun, carries it out.
	// A refusal by the guards is a KindConflict error.
	Act(ctx context.Context, a shardgate.Action) (shardgate.MoveReport, error)
	ShardHistory(ctx context.Context, shard int) ([]shardgate.OwnershipChange, error)
	// EventLog returns up to limit entries of the durable event log after
	// since (limit ≤ 0: all), and the newest sequence number held.
	EventLog(ctx context.Context, since uint64, limit int) ([]shardgate.LogEntry, uint64, error)
	// LogChanged returns a channel closed when entries are added.
	LogChanged() <-chan struct{}
	// Subscribe returns a channel of events and a cancel func; the engine
	// drops events for a subscriber that does not keep up (never blocks), so
	// the stream may skip. The SSE handler makes up for skips with periodic
	// stats and snapshots.
	Subscribe() (<-chan shardgate.Event, func())
	// Ready is nil when the node has joined, knows the table and has loaded
	// its own shards; else a *shardgate.Error saying why not.
	Ready() error
}

// Config of the admin listener. Zero durations take the defaults below.
type Config struct {
	// Addr is the listen address for ListenAndServe, e.g. "127.0.0.1:9090".
	Addr string
	// Token is the bearer token required on /v1/*. Empty leaves the API
	// open; whoever wires the node must then keep the listener on loopback.
	Token string
	// Logger receives request failures and recovered panics. Nil discards.
	Logger *slog.Logger
	// StatsInterval is how often each SSE stream gets a "stats" event (the
	// ClusterView). Default 1 s.
	StatsInterval time.Duration
	// Heartbeat is how often an SSE stream gets a comment line so proxies
	// and browsers keep it open. Default 15 s.
	Heartbeat time.Duration
	// RequestTimeout bounds every Backend call made for one request.
	// Default 30 s.
	RequestTimeout time.Duration
	// MaxJSONDepth is how many levels of arrays and objects a body's data
	// may nest (the body object itself is one more); a deeper body is
	// refused with 400 before it is decoded. Default 32
	// (shardgate.DefaultMaxJSONDepth).
	MaxJSONDepth int
}

// Defaults applied by New.
const (
	DefaultStatsInterval  = time.Second
	DefaultHeartbeat      = 15 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	// MaxBodyBytes caps every request body (oversized input is
	// refused, not buffered).
	MaxBodyBytes = 1 << 20
)

// Server is the admin listener. Build it with New; it is safe for concurrent
// use.
type Server struct {
	cfg   Config
	b     Backend
	m     *metrics.Metrics
	log   *slog.Logger
	e     *echo.Echo
	srv   *http.Server
	index []byte // the dashboard page with the auth mode filled in

	// base is cancelled by Shutdown: SSE streams and Backend calls in
	// flight end first, so the HTTP shutdown does not wait on them.
	base     context.Context
	stopBase context.CancelFunc
}

// New builds the listener. m supplies the registry behind /metrics; with a
// nil m the route is not registered.
func New(cfg Config, b Backend, m *metrics.Metrics) *Server {
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = DefaultStatsInterval
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxJSONDepth <= 0 {
		cfg.MaxJSONDepth = shardgate.DefaultMaxJSONDepth
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, b: b, m: m, log: log}
	s.base, s.stopBase = context.WithCancel(context.Background())
	s.index = renderIndex(cfg.Token != "")
	s.e = s.newEcho()
	s.srv = &http.Server{
		Handler: s.e,
		// No ReadTimeout or WriteTimeout: both would cut SSE streams. Bodies
		// are bounded by the body limit and headers by this timeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		// Log with slog and hand the user a plain internal error: the stack
		// stays in the log.
		LogErrorFunc: s.logPanic,
	}))
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("1MiB")) // = MaxBodyBytes; "1M" would mean 10^6

	e.GET("/", s.serveIndex)
	e.GET("/app.js", serveAsset("app.js", "text/javascript; charset=utf-8"))
	e.GET("/style.css", serveAsset("style.css", "text/css; charset=utf-8"))
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.m != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.m.Registry, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		})))
	}

	// The guards go on each route, not on the group: Echo answers every
	// unmatched path of a group with middleware by 404, which would hide the
	// router's 405 for a known path with the wrong method.
	v1 := e.Group("/v1")
	guard := []echo.MiddlewareFunc{s.requireToken, sameOrigin}
	v1.GET("/cluster", s.getCluster, guard...)
	v1.GET("/partitions", s.getPartitions, guard...)
	v1.GET("/partitions/:id/history", s.getShardHistory, guard...)
	v1.POST("/partitions/:id/move", s.moveShard, guard...)
	v1.GET("/route", s.getRoute, guard...)
	v1.POST("/rebalance", s.rebalance, guard...)
	v1.POST("/nodes/:name/drain", s.drain, guard...)
	v1.POST("/nodes/:name/failover", s.failover, guard...)
	v1.POST("/nodes/:name/readmit", s.readmit, guard...)
	v1.POST("/nodes/:name/remove", s.remove, guard...)
	v1.POST("/users/:key/messages", s.sendMessage, guard...)
	v1.GET("/users/:key/messages", s.history, guard...)
	v1.GET("/users/:key/presence", s.presence, guard...)
	v1.POST("/topics/:topic/messages", s.publish, guard...)
	v1.GET("/events", s.events, guard...)
	s.routePprof(e)
	return e
}

// Handler is the whole listener as an http.Handler, for httptest or for
// mounting behind another server.
func (s *Server) Handler() http.Handler { return s.e }

// Start serves on ln until Shutdown; it returns nil after a Shutdown.
func (s *Server) Start(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on Config.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return shardgate.Errorf(shardgate.KindInvalid, "admin listener cannot listen on %q: %w", s.cfg.Addr, err)
	}
	return s.Start(ln)
}

// Shutdown ends the SSE streams first (they never go idle on their own), then
// stops accepting requests and waits for the ones in flight until ctx ends.
// It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopBase()
	return s.srv.Shutdown(ctx)
}

// backendCtx bounds one request's Backend calls and ends them when the
// server shuts down.
func (s *Server) backendCtx(c echo.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
	stop := context.AfterFunc(s.base, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 503 whatever the kind of the reason: a load balancer only
// needs to know "not yet", the body says why.
func (s *Server) readyz(c echo.Context) error {
	if err := s.b.Ready(); err != nil {
		return c.JSON(http.StatusServiceUnavailable, errorBody(shardgate.KindOf(err).String(), shardgate.UserMessage(err)))
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
