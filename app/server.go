package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/admin"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/conn"
	"github.com/shardgate/shardgate/internal/inflight"
	"github.com/shardgate/shardgate/link"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// Server is one running shardgate node.
type Server struct {
	cfg         Config
	log         *slog.Logger
	st          *store.Store
	mesh        *link.Mesh
	cl          *cluster.Cluster
	node        *node.Node
	conns       *conn.Server
	admin       *admin.Server
	m           *metrics.Metrics
	wsLn        net.Listener
	adminLn     net.Listener
	public      *http.Server
	adminHS     *http.Server
	limits      *connLimiter  // client connections: the public listener
	adminLimits *connLimiter  // the admin listener, counted apart
	certs       *certReloader // nil without --tls-cert
	linkTLS     *link.TLS     // nil: plain node links (no cluster key)

	wsAddr, adminAddr string
	dataID            string // the data dir's identity (cluster.Meta.ID)
	// tableCluster and dataCluster are the cluster the data dir's table
	// names and, if it holds messages, the one they belong to
	// (cluster.Meta Cluster and Data).
	tableCluster, dataCluster string
	knownPeers                []string // gossip addresses of the last run's peers

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New opens the data dir and binds every listener; nothing is served until
// Start. Errors are single sentences fit for a user.
func New(cfg Config) (*Server, error) {
	cfg.fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("node", cfg.Name), m: metrics.New()}
	for _, w := range cfg.warnings() {
		s.log.Warn(w)
	}
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()
	var err error
	s.limits = newConnLimiter(cfg.MaxConnections, cfg.MaxConnectionsPerAddr, "this node has reached its connection limit (--max-connections)")
	s.adminLimits = newConnLimiter(adminConnectionCap(cfg.MaxConnections), adminPerAddrCap(cfg.MaxConnectionsPerAddr),
		fmt.Sprintf("this node's admin listener has reached its connection limit (%d)", AdminMaxConnections))
	if cfg.TLSCert != "" {
		if s.certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	}
	if s.wsLn, err = listen("--ws-addr", cfg.WSAddr); err != nil {
		return nil, err
	}
	if s.adminLn, err = listen("--admin-addr", cfg.AdminAddr); err != nil {
		return nil, err
	}
	s.wsAddr = advertised(s.wsLn.Addr().String(), cfg.AdvertiseAddr)
	s.adminAddr = advertised(s.adminLn.Addr().String(), cfg.AdvertiseAddr)
	if err := s.openStore(); err != nil {
		return nil, err
	}
	key, _ := cfg.clusterKey()
	if s.linkTLS, err = linkTLS(cfg, key); err != nil {
		return nil, err
	}
	s.mesh, err = link.New(link.Config{Name: cfg.Name, ClusterKey: key, TLS: s.linkTLS, Logger: s.log, Allow: cfg.LinkAllow,
		QueueSize: cfg.LinkQueue, QueueBytes: cfg.LinkQueueBytes,
		// Only nodes that gossip knows (joining ones included, and failed
		// ones it still tries to re-join) may link in; s.cl is set before
		// anything is served.
		Member: s.clKnown,
		// The cluster its table names, carried in its gossip metadata.
		Cluster: s.clusterID,
		Handler: link.HandlerFunc(func(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
			return s.node.HandleLink(ctx, from, method, body)
		})})
	if err != nil {
		return nil, fmt.Errorf("node links: %w", err)
	}
	if err := s.newCluster(key); err != nil {
		return nil, err
	}
	if err := s.newEngine(); err != nil {
		return nil, err
	}
	auth, err := conn.NewAuthenticator(conn.AuthConfig{Secret: []byte(cfg.AuthSecret), Insecure: cfg.Insecure,
		Audience: cfg.JWTAudience, Issuer: cfg.JWTIssuer, MaxTTL: cfg.JWTMaxTTL})
	if err != nil {
		return nil, err
	}
	ccfg := conn.DefaultConfig()
	ccfg.NodeName = cfg.Name
	ccfg.AllowedOrigins = cfg.AllowedOrigins
	ccfg.MaxJSONDepth = cfg.MaxJSONDepth
	ccfg.ReadLimit = cfg.MaxFrameBytes
	ccfg.RateLimit = rate.Limit(cfg.ConnRate)
	ccfg.RateBurst = max(1, int(2*cfg.ConnRate))
	ccfg.SendQueue = cfg.SendQueue
	ccfg.WriteDelay = cfg.WriteDelay
	ccfg.HistoryPage = min(ccfg.HistoryPage, cfg.SendQueue/2) // a replay page must fit the queue
	ccfg.MaxConnsPerKey = cfg.MaxConnectionsPerKey
	ccfg.UserSendRate = rate.Limit(cfg.UserSendRate)
	ccfg.UserSendBurst = max(1, int(2*cfg.UserSendRate))
	ccfg.MaxInFlight = cfg.ConnInFlight
	ccfg.MaxInFlightBytes = cfg.ConnInFlightBytes
	ccfg.AnswerQueueBytes = cfg.AnswerQueueBytes
	ccfg.NodeAnswerQueueBytes = cfg.NodeAnswerQueueBytes
	sends := inflight.New(int64(cfg.NodeInFlight), cfg.NodeInFlightBytes)
	s.m.SendsInFlight(sends.InFlight)
	s.m.LinkTraffic(func() metrics.LinkCounts { return metrics.LinkCounts(s.mesh.Traffic()) })
	ccfg.NodeSends = sends
	ccfg.Logger = s.log
	s.conns = conn.NewServer(ccfg, s.node, auth, s.m)
	s.node.SetDeliverer(s.conns)
	httpSends := boundedSends{Backend: s.node, node: cfg.Name, sends: sends, shed: s.m.RequestsShed.WithLabelValues("node").Inc}
	s.admin = admin.New(admin.Config{Addr: s.adminAddr, Token: cfg.AdminToken, Logger: s.log, MaxJSONDepth: cfg.MaxJSONDepth}, httpSends, s.m)
	s.public = s.httpServer(s.publicMux(), "/internal/link", s.conns.OriginAllowed)
	s.adminHS = s.httpServer(s.admin.Handler(), "", nil)
	ok = true
	return s, nil
}

// httpServer wraps one listener's handler in the connection hygiene both
// listeners share. No ReadTimeout or WriteTimeout: they would cut SSE
// streams and WebSocket connections; bodies get their own deadline.
func (s *Server) httpServer(h http.Handler, exempt string, allowedOrigin func(*http.Request) bool) *http.Server {
	if s.cfg.AdminToken == "" {
		h = loopbackOnly(h, allowedOrigin)
	}
	h = bodyDeadline(h, s.cfg.BodyTimeout)
	h = refuseOverLimit(h, exempt)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// wrapListener counts connections against lim's caps, then terminates TLS:
// for clients with --tls-cert (nothing else then), and for node links,
// told apart by their server name, when lt is set. With links on TLS but
// clients on plain HTTP, one port serves both.
func (s *Server) wrapListener(ln net.Listener, lim *connLimiter, lt *link.TLS) net.Listener {
	var out net.Listener = limitedListener{ln, lim}
	switch {
	case s.certs != nil:
		return tls.NewListener(out, serverTLS(s.certs, lt))
	case lt != nil:
		return newSniffListener(out, serverTLS(nil, lt), s.cfg.ReadHeaderTimeout)
	}
	return out
}

func (s *Server) clKnown(name string) bool { return s.cl.Known(name) }

func (s *Server) clusterID() string {
	if s.cl == nil {
		return ""
	}
	return s.cl.LocalMeta().Cluster
}

func listen(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s is not usable: %w", flag, addr, errors.Unwrap(err))
	}
	return ln, nil
}

// advertised replaces an unspecified host (0.0.0.0) by the advertise
// address's host, so peers and clients get an address they can dial.
func advertised(bound, advertise string) string {
	host, port, _ := net.SplitHostPort(bound)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ah, _, err := net.SplitHostPort(advertise); err == nil && ah != "" {
			host = ah
		}
	}
	return net.JoinHostPort(host, port)
}

func (s *Server) openStore() error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	scfg := store.DefaultConfig(filepath.Join(s.cfg.DataDir, "shardgate.db"))
	scfg.NoSync = s.cfg.NoSync
	scfg.MaxMessages = s.cfg.RetentionMessages
	scfg.MaxAge = s.cfg.RetentionAge
	scfg.MaxBytes = s.cfg.MaxStorageBytes
	scfg.Logger = s.log
	scfg.OnCommit = func(d time.Duration, ops int) {
		s.m.StoreCommitLatency.Observe(d.Seconds())
		s.m.StoreCommitOps.Observe(float64(ops))
	}
	st, err := store.Open(scfg)
	if err != nil {
		return err
	}
	s.st = st
	name, err := st.GetMeta("name")
	if err != nil {
		return err
	}
	if name != nil && string(name) != s.cfg.Name {
		return fmt.Errorf("data dir %s belongs to node %q, not %q: node names must stay the same across restarts", s.cfg.DataDir, name, s.cfg.Name)
	}
	if name == nil {
		if err := st.PutMeta("name", []byte(s.cfg.Name)); err != nil {
			return err
		}
	}
	if err := s.loadDataID(); err != nil {
		return err
	}
	s.tableCluster, s.dataCluster, err = node.DataCluster(st)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	if s.knownPeers, err = node.KnownPeers(st); err != nil {
		// Only a convenience for re-joining: start without it.
		s.log.Warn("the saved peers' addresses are unreadable; the node re-joins only its --join seeds", "err", err)
	}
	return nil
}

// loadDataID reads the data dir's identity, making it on first use: the
// cluster tells this node's own restarts from a second node given the
// same name (cluster.Meta.ID).
func (s *Server) loadDataID() error {
	id, err := s.st.GetMeta("id")
	if err != nil || id != nil {
		s.dataID = string(id)
		return err
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("data dir %s: make its identity: %w", s.cfg.DataDir, err)
	}
	s.dataID = hex.EncodeToString(b)
	return s.st.PutMeta("id", []byte(s.dataID))
}

// authFingerprint says how this node checks client tokens, for the cluster
// to compare (cluster.Meta.Auth): a keyed hash of the claims rules under
// the secret, from which neither can be read back.
func authFingerprint(c Config) string {
	if c.AuthSecret == "" {
		if c.Insecure {
			return "insecure"
		}
		return ""
	}
	mac := hmac.New(sha256.New, []byte(c.AuthSecret))
	fmt.Fprintf(mac, "shardgate client tokens\x00%s\x00%s\x00%d\x00%t", c.JWTAudience, c.JWTIssuer, c.JWTMaxTTL, c.Insecure)
	return hex.EncodeToString(mac.Sum(nil)[:6])
}

func (s *Server) newCluster(key []byte) error {
	ccfg := cluster.DefaultConfig()
	if s.cfg.Local {
		ccfg = cluster.DefaultLocalConfig()
	}
	ccfg.Name = s.cfg.Name
	ccfg.BindAddr = s.cfg.GossipAddr
	ccfg.AdvertiseAddr = s.cfg.AdvertiseAddr
	ccfg.Join = s.cfg.Join
	ccfg.Peers = s.knownPeers
	ccfg.SecretKey = key
	ccfg.Logger = s.log
	if s.cfg.ClusterHook != nil {
		s.cfg.ClusterHook(&ccfg)
	}
	ccfg.Meta = cluster.Meta{Name: s.cfg.Name, WSAddr: s.wsAddr, AdminAddr: s.adminAddr,
		State: shardgate.StateJoining, Partitions: s.cfg.Partitions, StartedAt: time.Now().UnixMilli(), ID: s.dataID,
		Cluster: s.tableCluster, Data: s.dataCluster, Auth: authFingerprint(s.cfg), Copies: s.cfg.Backups + 1}
	cl, err := cluster.New(ccfg)
	if errors.Is(err, syscall.EADDRINUSE) {
		// Named like the other listeners' flags: the operator fixes a flag.
		return fmt.Errorf("--gossip-addr %s is not usable: %w", s.cfg.GossipAddr, syscall.EADDRINUSE)
	}
	if err != nil {
		return err
	}
	s.cl = cl
	return nil
}

func (s *Server) newEngine() error {
	ncfg := node.DefaultConfig()
	if s.cfg.Local {
		ncfg = node.DefaultLocalConfig()
	}
	ncfg.Name = s.cfg.Name
	ncfg.Shard = shard.Config{Partitions: s.cfg.Partitions, Backups: s.cfg.Backups, Load: shard.DefaultConfig().Load}
	ncfg.WSAddr = s.wsAddr
	ncfg.AdminAddr = s.adminAddr
	ncfg.TLS = s.cfg.TLSCert != ""
	ncfg.AckBeforeReplicate = s.cfg.AckBeforeReplicate
	ncfg.Logger = s.log
	ncfg.WriterQueue = s.cfg.WriterQueue
	ncfg.WriterQueueBytes = s.cfg.WriterQueueBytes
	ncfg.PushQueueMessages = s.cfg.PushQueue
	ncfg.PushQueueBytes = int(s.cfg.PushQueueBytes)
	if s.cfg.WriteTimeout > 0 {
		ncfg.ForwardRetry = s.cfg.WriteTimeout
	}
	if s.cfg.ReplicateTimeout > 0 {
		ncfg.ReplicateTimeout = s.cfg.ReplicateTimeout
	}
	if s.cfg.EngineHook != nil {
		s.cfg.EngineHook(&ncfg)
	}
	n, err := node.New(ncfg, s.st, s.cl, s.mesh, s.m)
	if err != nil {
		return err
	}
	s.node = n
	return nil
}

// Name, WSURL and AdminURL say where this node can be reached.
func (s *Server) Name() string      { return s.cfg.Name }
func (s *Server) WSURL() string     { return shardgate.WSURL(s.wsAddr, s.cfg.TLSCert != "") }
func (s *Server) PublicURL() string { return s.scheme("http") + "://" + s.wsAddr }
func (s *Server) AdminURL() string  { return s.scheme("http") + "://" + s.adminAddr }

// scheme adds the s of ws and http when the listeners serve TLS.
func (s *Server) scheme(plain string) string {
	if s.cfg.TLSCert != "" {
		return plain + "s"
	}
	return plain
}

// ReloadTLS reads --tls-cert and --tls-key again (on SIGHUP); new
// handshakes use the new certificate. On error the old one stays.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return nil
	}
	if err := s.certs.Reload(); err != nil {
		return err
	}
	s.log.Info("listener certificate reloaded", "cert", s.cfg.TLSCert)
	return nil
}
func (s *Server) GossipAddr() string { return s.cfg.AdvertiseAddr }

// Node exposes the engine (tests, dev).
func (s *Server) Node() *node.Node { return s.node }

// Start serves the listeners, joins the cluster and starts the engine.
func (s *Server) Start(ctx context.Context) error {
	s.serve(func() error { return s.public.Serve(s.wrapListener(s.wsLn, s.limits, s.linkTLS)) })
	s.serve(func() error { return s.adminHS.Serve(s.wrapListener(s.adminLn, s.adminLimits, nil)) })
	if err := s.cl.Join(ctx); err != nil {
		return err
	}
	return s.node.Start(ctx)
}

func (s *Server) serve(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("listener stopped", "err", err)
		}
	}()
}

// Run starts the node and serves until ctx is cancelled (a graceful stop:
// drain, hand off, leave) or the node is drained by an operator.
func (s *Server) Run(ctx context.Context, stopTimeout time.Duration) error {
	if err := s.Start(ctx); err != nil {
		s.Kill()
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.node.Left():
	}
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown drains the node (its shards are handed off), tells its clients
// where to go, leaves the cluster and closes everything.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		if e := s.node.Stop(ctx); e != nil {
			s.log.Warn("drain", "err", e)
		}
		movedURL := func(key string) string {
			r, e := s.node.Route(ctx, key)
			if e != nil || r.Owner == s.cfg.Name {
				return ""
			}
			return r.WSURL
		}
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if e := s.conns.Shutdown(cctx, movedURL); e != nil {
			s.log.Warn("close client connections", "err", e)
		}
		if e := s.cl.Leave(cctx); e != nil {
			s.log.Warn("leave cluster", "err", e)
		}
		err = s.closeParts()
	})
	return err
}

// Kill stops the node abruptly, as close to a crash as one process allows:
// no drain, no leave.
func (s *Server) Kill() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.conns.Shutdown(ctx, func(string) string { return "" })
		_ = s.closeParts()
	})
}

func (s *Server) closeParts() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.public != nil {
		_ = s.public.Close()
	}
	if s.admin != nil {
		_ = s.admin.Shutdown(ctx) // ends SSE streams, which never go idle
	}
	if s.adminHS != nil {
		_ = s.adminHS.Shutdown(ctx)
	}
	s.closeAll()
	s.wg.Wait()
	return nil
}

// closeAll releases whatever New managed to create.
func (s *Server) closeAll() {
	if s.node != nil {
		_ = s.node.Close()
	}
	if s.cl != nil {
		_ = s.cl.Close()
	}
	if s.mesh != nil {
		_ = s.mesh.Close()
	}
	if s.wsLn != nil {
		_ = s.wsLn.Close()
	}
	if s.adminLn != nil {
		_ = s.adminLn.Close()
	}
	if s.st != nil {
		if err := s.st.Close(); err != nil {
			s.log.Warn("close store", "err", err)
		}
	}
}
