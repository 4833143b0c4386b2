package main

import (
	"net"
	"time"

	"github.com/shardgate/shardgate/app"
)

// runOptions is everything `shardgate run` accepts that is not app.Config.
type runOptions struct {
	cfg         app.Config
	config      string
	logFormat   string
	logLevel    string
	stopTimeout time.Duration
	// blame names the source (variable, file line) of the setting an
	// error is about, when it was not the command line.
	blame func(error) error
}

func defaultRunOptions() *runOptions {
	return &runOptions{
		cfg:         app.DefaultConfig(),
		logFormat:   "text",
		logLevel:    "info",
		stopTimeout: 60 * time.Second,
		blame:       func(err error) error { return err },
	}
}

// runSettings is the table of `shardgate run` (docs/configuration.md). Add a setting
// here, once: it becomes a flag, an environment variable and a config key,
// and shows up in `shardgate run -h` and the docs test.
func runSettings(o *runOptions) *settings {
	c := &o.cfg
	return newSettings(append([]*setting{
		stringSetting(&o.config, "config", "FILE", "a TOML file whose keys are these flag names").notInFile(),
		stringSetting(&c.Name, "name", "NAME", "stable node name; persisted in the data dir, must stay the same across restarts").withDefault("hostname"),
		stringSetting(&c.DataDir, "data-dir", "DIR", "bbolt files and node identity").withDefault("./data/<name>"),
		stringSetting(&c.GossipAddr, "gossip-addr", "ADDR", "memberlist bind address"),
		stringSetting(&c.AdvertiseAddr, "advertise-addr", "ADDR", "address other nodes use").withDefault("gossip addr"),
		stringSetting(&c.WSAddr, "ws-addr", "ADDR", "public listener: WebSocket endpoint and route look-up"),
		stringSetting(&c.AdminAddr, "admin-addr", "ADDR", "admin API, dashboard, metrics"),
		listSetting(&c.Join, "join", "ADDRS", "comma-separated gossip addresses (or DNS names) of existing nodes; port 7946 if none", withGossipPort),
		intSetting(&c.Partitions, "partitions", "number of shards P (fixed for the cluster's life)"),
		intSetting(&c.Backups, "backups", "backups B per shard; the cluster keeps as many as its most demanding live member asks for, so give every node the same (one that differs is warned of)"),
		stringSetting(&c.AuthSecret, "auth-secret", "SECRET", "HS256 secret for client JWTs").secretFile(),
		boolSetting(&c.Insecure, "insecure", "dev only: clients name themselves with ?user=KEY, no token"),
		stringSetting(&c.AdminToken, "admin-token", "TOKEN", "bearer token for /v1/* on the admin listener").secretFile(),
		listSetting(&c.AllowedOrigins, "allowed-origins", "ORIGINS", "comma-separated browser origins allowed on /v1/ws besides same-origin and origin-less clients (https://app.example, https://*.example)", nil),
		stringSetting(&c.ClusterKey, "cluster-key", "BASE64", "base64 AES key (16/24/32 bytes): gossip encryption and node-link authentication").secretFile(),
		stringSetting(&c.JWTAudience, "jwt-audience", "AUD", "client tokens must carry this aud (none: aud not checked)"),
		stringSetting(&c.JWTIssuer, "jwt-issuer", "ISS", "client tokens must carry this iss (none: iss not checked)"),
		durationSetting(&c.JWTMaxTTL, "jwt-max-ttl", "longest lifetime a client token may have, from now or its iat (0: no maximum)"),
		stringSetting(&c.TLSCert, "tls-cert", "FILE", "PEM certificate (chain): wss:// and https:// on the public and admin listeners; reloaded on SIGHUP"),
		stringSetting(&c.TLSKey, "tls-key", "FILE", "PEM private key of --tls-cert; reloaded on SIGHUP"),
		stringSetting(&c.LinkTLSCert, "link-tls-cert", "FILE", "node-link certificate (for link.shardgate.internal) instead of one derived from --cluster-key"),
		stringSetting(&c.LinkTLSKey, "link-tls-key", "FILE", "private key of --link-tls-cert"),
		stringSetting(&c.LinkTLSCA, "link-tls-ca", "FILE", "CA that signs every node's --link-tls-cert"),
		intSetting(&c.MaxConnections, "max-connections", "open client connections per node on the public listener (0: no cap; the admin listener has a cap of its own, 1024); more get 503 or WebSocket close 4008"),
		intSetting(&c.MaxConnectionsPerAddr, "max-connections-per-addr", "open connections from one client IP (0: no cap; raise it behind a proxy); those past it are refused without taking room from other addresses, and the admin listener allows one IP at most 256"),
		durationSetting(&c.ReadHeaderTimeout, "read-header-timeout", "time for a client to send request headers, TLS and WebSocket handshakes included"),
		durationSetting(&c.BodyTimeout, "body-timeout", "time for a client to send a request body once its headers are in"),
		durationSetting(&c.IdleTimeout, "idle-timeout", "how long an idle keep-alive connection is kept open"),
		intSetting(&c.MaxJSONDepth, "max-json-depth", "levels of arrays and objects a message's data may nest (client frames and admin bodies, 1-1000); deeper input is refused where it enters").notZero(),
		sizeSetting(&c.MaxFrameBytes, "max-frame-bytes", "largest client frame (1KiB-1MiB); a larger one closes the connection with 1009").notZero(),
		floatSetting(&c.ConnRate, "conn-rate", "frames per second one client connection may send, bursts of twice as many; more get 1002, and 1000 refused within 10 s close it with 4008").notZero(),
		durationSetting(&c.WriteDelay, "write-delay", "how long a client connection lets deliveries gather before writing them as one frame: less CPU per delivery under heavy fan-out, up to that much more latency (0: write at once; at most 1s)"),
		intSetting(&c.SendQueue, "send-queue", "frames that may wait for a client that does not read; when it overflows the connection is closed with 4009").notZero(),
		intSetting(&c.MaxConnectionsPerKey, "max-connections-per-key", "open connections of one key to a node; more are closed with 4008").notZero(),
		intSetting(&c.ConnInFlight, "conn-in-flight", "requests one client connection may have sent and not had answered (they run one at a time, in order); more are answered 1002 at once"),
		sizeSetting(&c.ConnInFlightBytes, "conn-in-flight-bytes", "frame bytes of those requests (at least --max-frame-bytes); beyond it a request is answered 1002 at once"),
		sizeSetting(&c.AnswerQueueBytes, "answer-queue-bytes", "bytes of answers (a history page is up to 2MiB) that may wait for one client that does not read; while they do, its next request waits").notZero(),
		sizeSetting(&c.NodeAnswerQueueBytes, "node-answer-queue-bytes", "bytes of answers that may wait for all of a node's clients together; beyond it a history request is answered 1002 at once").notZero(),
		intSetting(&c.NodeInFlight, "node-in-flight", "sends a node may have taken in and not answered, over all client connections and the HTTP send API; more are answered 1002 (HTTP 429) at once (0: no bound)"),
		sizeSetting(&c.NodeInFlightBytes, "node-in-flight-bytes", "frame bytes of those sends; beyond it a send is answered 1002 (HTTP 429) at once (0: no bound)"),
		intSetting(&c.RetentionMessages, "retention-messages", "messages each key keeps; older ones are removed as new ones arrive (0: no limit)"),
		durationSetting(&c.RetentionAge, "retention-age", "how long a message is kept (0: no limit)"),
		sizeSetting(&c.MaxStorageBytes, "max-storage-bytes", "stored messages per node; at the limit sends to keys homed here are refused (1003, HTTP 507) while reads go on (0: no limit)"),
		floatSetting(&c.UserSendRate, "user-send-rate", "sends and publications per second one key may make over all its connections to a node, bursts of twice as many; more get 1002"),
		intSetting(&c.WriterQueue, "writer-queue", "writes waiting for one shard's writer; beyond it a write is answered 1002 at once").notZero(),
		sizeSetting(&c.WriterQueueBytes, "writer-queue-bytes", "bytes of message data waiting for one shard's writer; beyond it a write is answered 1002 at once").notZero(),
		intSetting(&c.PushQueue, "push-queue", "messages waiting to be pushed to one peer node; beyond it pushes are dropped and the peer's connections read them from history").notZero(),
		sizeSetting(&c.PushQueueBytes, "push-queue-bytes", "bytes waiting to be pushed to one peer node (as --push-queue)").notZero(),
		intSetting(&c.LinkQueue, "link-queue", "frames waiting to be written on one node link; beyond it the call fails at once (1003) instead of waiting; incoming notifications beyond it are dropped and counted").notZero(),
		sizeSetting(&c.LinkQueueBytes, "link-queue-bytes", "bytes of those frames (as --link-queue); a frame alone in its queue is always taken").notZero(),
		durationSetting(&c.WriteTimeout, "write-timeout", "time a write gets to reach its key's home and commit there, retries included; then it is answered 1003 with the reason").notZero(),
		durationSetting(&c.ReplicateTimeout, "replicate-timeout", "time a batch waits for its backups before its writes are answered 1003; at most --write-timeout").notZero(),
		durationSetting(&o.stopTimeout, "stop-timeout", "how long a graceful stop (SIGTERM) may take to hand off shards"),
		oneOf(&o.logFormat, "log-format", "log format", "text", "json"),
		oneOf(&o.logLevel, "log-level", "log level", "debug", "info", "warn", "error"),
		boolSetting(&c.Local, "fast-failure-detection", "loopback timings: faster failure detection and planning (tests, dev)"),
	}, unsafeSettings(c)...)...)
}

// withGossipPort gives a bare DNS name or IP the default gossip port.
func withGossipPort(addr string) (string, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(addr, "7946"), nil
	}
	return addr, nil
}
