package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the collectors; components receive it and update fields.
// A nil *Metrics is not allowed: use New.
type Metrics struct {
	Registry *prometheus.Registry

	Connections        prometheus.Gauge
	ConnectionsTotal   prometheus.Counter
	ConnectionsClosed  *prometheus.CounterVec // label: code
	MessagesIn         prometheus.Counter     // client frames received
	MessagesOut        prometheus.Counter     // frames written to clients
	MessagesStored     prometheus.Counter     // messages committed on this node as home
	MessagesForwarded  prometheus.Counter     // requests forwarded to another node
	MessagesReplicated prometheus.Counter     // writes applied as a backup
	MessagesRecovered  prometheus.Counter     // messages taken from a shard's other copies at start
	SlowConsumerDrops  prometheus.Counter
	RateLimited        prometheus.Counter
	AckLatency         prometheus.Histogram // seconds from send received to seq returned
	LinkQueueDepth     *prometheus.GaugeVec // label: peer
	ShardsOwned        prometheus.Gauge
	ShardsBackedUp     prometheus.Gauge
	ShardsMoving       prometheus.Gauge
	ShardsUnderRepl    prometheus.Gauge
	TableVersion       prometheus.Gauge
	MemberlistHealth   prometheus.Gauge
	Members            prometheus.Gauge
	StoreCommitLatency prometheus.Histogram
	StoreCommitOps     prometheus.Histogram
	StoreSizeBytes     prometheus.Gauge
	ShardMovesTotal    *prometheus.CounterVec // label: result
	Quorum             prometheus.Gauge
	PublicationsOut    prometheus.Counter
	// DeliveryPushDropped counts messages not pushed to a peer (its push
	// queue was full or the push failed); the peer's connections read
	// them from history.
	DeliveryPushDropped prometheus.Counter
	// WritesShed counts writes answered 1002 because their shard writer's
	// queue was full.
	WritesShed prometheus.Counter
	// RequestsShed counts client requests and HTTP sends answered 1002
	// (HTTP 429) at once because an in-flight bound was full; label bound:
	// "connection" (--conn-in-flight) or "node" (--node-in-flight).
	RequestsShed *prometheus.CounterVec
	// DiskFull is 1 while this node refuses writes because its disk is
	// full (no space or quota left), 0 otherwise.
	DiskFull prometheus.Gauge
	// LinkPublicationsSent counts publications sent to another node;
	// LinkPublicationsSkipped those not sent because that node's topic
	// interest summary does not name the topic.
	LinkPublicationsSent    prometheus.Counter
	LinkPublicationsSkipped prometheus.Counter
	// InterestSummariesSent counts topic interest summaries a peer confirmed.
	InterestSummariesSent prometheus.Counter
}

// New builds a Metrics with its own registry, including Go and process
// collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		f(g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		f(c)
		return c
	}
	m.Connections = gauge("shardgate_connections", "Client WebSocket connections open on this node.")
	m.ConnectionsTotal = counter("shardgate_connections_opened_total", "Client WebSocket connections accepted.")
	m.ConnectionsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shardgate_connections_closed_total", Help: "Client connections closed, by close code."}, []string{"code"})
	f(m.ConnectionsClosed)
	m.MessagesIn = counter("shardgate_messages_in_total", "Client frames received.")
	m.MessagesOut = counter("shardgate_messages_out_total", "Frames written to clients.")
	m.MessagesStored = counter("shardgate_messages_stored_total", "Messages committed on this node as their home.")
	m.MessagesForwarded = counter("shardgate_messages_forwarded_total", "Requests forwarded to another node.")
	m.MessagesReplicated = counter("shardgate_messages_replicated_total", "Writes applied on this node as a backup.")
	m.MessagesRecovered = counter("shardgate_messages_recovered_total", "Messages this node found on a shard's other copies but not in its own store, and took: writes in flight when it stopped, or writes its store lost.")
	m.SlowConsumerDrops = counter("shardgate_slow_consumer_disconnects_total", "Connections closed because their send queue overflowed.")
	m.RateLimited = counter("shardgate_rate_limited_total", "Requests refused by a rate limit.")
	m.AckLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shardgate_ack_latency_seconds", Help: "Time from a send arriving to its seq being returned.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)})
	f(m.AckLatency)
	m.LinkQueueDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shardgate_link_queue_depth", Help: "Frames queued on the link to a peer."}, []string{"peer"})
	f(m.LinkQueueDepth)
	m.ShardsOwned = gauge("shardgate_shards_owned", "Shards this node is home of.")
	m.ShardsBackedUp = gauge("shardgate_shards_backed_up", "Shards this node holds a backup of.")
	m.ShardsMoving = gauge("shardgate_shards_moving", "Shards being copied to a new node, cluster-wide.")
	m.ShardsUnderRepl = gauge("shardgate_shards_under_replicated", "Shards with fewer live copies than 1+B, cluster-wide.")
	m.TableVersion = gauge("shardgate_table_version", "Version of the partition table in force on this node.")
	m.MemberlistHealth = gauge("shardgate_memberlist_health_score", "memberlist awareness score (0 is healthy).")
	m.Members = gauge("shardgate_members", "Alive members seen by this node.")
	m.StoreCommitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shardgate_store_commit_latency_seconds", Help: "Group commit latency: applying a group of writes and syncing its write-ahead log record.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	f(m.StoreCommitLatency)
	m.StoreCommitOps = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shardgate_store_commit_ops", Help: "Operations per group commit (one write-ahead log record and sync).", Buckets: prometheus.ExponentialBuckets(1, 2, 14)})
	f(m.StoreCommitOps)
	m.StoreSizeBytes = gauge("shardgate_store_size_bytes", "Size of the bbolt file.")
	m.ShardMovesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shardgate_shard_moves_total", Help: "Shard copies this node streamed, by result."}, []string{"result"})
	f(m.ShardMovesTotal)
	m.Quorum = gauge("shardgate_quorum", "1 when this node sees a majority of the table's members, else 0.")
	m.PublicationsOut = counter("shardgate_publications_out_total", "Topic publications delivered to local subscribers.")
	m.DeliveryPushDropped = counter("shardgate_delivery_push_dropped_total", "Messages not pushed to a peer node (queue full or push failed); its connections read them from history.")
	m.WritesShed = counter("shardgate_writes_shed_total", "Writes answered 1002 at once because their shard writer's queue was full (--writer-queue, --writer-queue-bytes).")
	m.RequestsShed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shardgate_requests_shed_total", Help: "Client requests and HTTP sends answered 1002 (HTTP 429) at once because an in-flight bound was full, by bound: connection (--conn-in-flight, --conn-in-flight-bytes) or node (--node-in-flight, --node-in-flight-bytes)."}, []string{"bound"})
	f(m.RequestsShed)
	m.DiskFull = gauge("shardgate_disk_full", "1 while this node refuses writes because its disk is full (no space or quota left), else 0; it probes and recovers by itself.")
	m.LinkPublicationsSent = counter("shardgate_link_publications_sent_total", "Topic publications sent to another node over the node links (one per node whose interest summary names the topic, or that sent none).")
	m.LinkPublicationsSkipped = counter("shardgate_link_publications_skipped_total", "Topic publications not sent to another node because its interest summary does not name the topic.")
	m.InterestSummariesSent = counter("shardgate_interest_summaries_sent_total", "Topic interest summaries sent to, and confirmed by, another node.")
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// LinkCounts are a node's link counters (link.Traffic).
type LinkCounts struct {
	FramesOut, EnvelopesOut, FramesIn int64
	BadEnvelopes, QueueFull           int64
}

// LinkTraffic exports the node links' counters as read by fn: frames and
// envelopes (requests and replies) written, frames read, envelopes from
// peers that could not be decoded, and this node's envelopes that a full
// queue to a peer refused.
func (m *Metrics) LinkTraffic(fn func() LinkCounts) {
	counter := func(name, help string, get func(LinkCounts) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(get(fn())) })
	}
	m.Registry.MustRegister(
		counter("shardgate_link_frames_out_total", "Frames written to other nodes.", func(c LinkCounts) int64 { return c.FramesOut }),
		counter("shardgate_link_envelopes_out_total", "Requests and replies written to other nodes; over shardgate_link_frames_out_total, how many a frame carries.", func(c LinkCounts) int64 { return c.EnvelopesOut }),
		counter("shardgate_link_frames_in_total", "Frames read from other nodes.", func(c LinkCounts) int64 { return c.FramesIn }),
		counter("shardgate_link_bad_envelopes_total", "Envelopes and frames from other nodes that could not be decoded (each fails alone).", func(c LinkCounts) int64 { return c.BadEnvelopes }),
		counter("shardgate_link_queue_full_total", "Envelopes refused because the queue to a peer was full (--link-queue, --link-queue-bytes).", func(c LinkCounts) int64 { return c.QueueFull }),
	)
}

// SendsInFlight exports the sends a node has taken in and not yet
// answered, and their bytes, as read by fn (--node-in-flight).
func (m *Metrics) SendsInFlight(fn func() (n, bytes int64)) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shardgate_sends_in_flight", Help: "Sends this node has taken in (client connections and HTTP) and not yet answered (bound: --node-in-flight)."},
			func() float64 { n, _ := fn(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shardgate_sends_in_flight_bytes", Help: "Frame bytes of the sends in flight (bound: --node-in-flight-bytes)."},
			func() float64 { _, b := fn(); return float64(b) }),
	)
}
