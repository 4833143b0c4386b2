package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/test/checker"
)

// WorkloadConfig sizes the load. The defaults keep a 2-core machine that
// also runs the nodes responsive: the point is the history, not the rate.
type WorkloadConfig struct {
	Users          int           // recipients, each with one receiving connection
	Senders        int           // sending connections, each with its own key
	Interval       time.Duration // pause between one sender's sends
	AttemptTimeout time.Duration // one try; running out makes it "unknown"
	SendBudget     time.Duration // how long one logical send is retried
}

// Workload drives senders and receivers against the cluster and records
// every attempt, ack and delivery in the checker's Recorder.
type Workload struct {
	cfg       WorkloadConfig
	rec       *checker.Recorder
	tl        *Timeline
	log       *slog.Logger
	endpoints func() []string // WebSocket URLs of the nodes to try
	secret    []byte
	users     []string

	attempts, acked, unknown, failed, gaveUp atomic.Int64

	ackMu sync.Mutex
	acks  map[sendID]ackInfo // every acknowledged send, for explaining losses

	stop    chan struct{}
	sendWG  sync.WaitGroup
	recvWG  sync.WaitGroup
	cancel  context.CancelFunc
	recvCtx context.Context
	recvs   []*receiver
	tokenMu sync.Mutex
	tokens  map[string]string
}

func newWorkload(cfg WorkloadConfig, rec *checker.Recorder, tl *Timeline, log *slog.Logger, secret string, endpoints func() []string) *Workload {
	w := &Workload{cfg: cfg, rec: rec, tl: tl, log: log, endpoints: endpoints, secret: []byte(secret),
		stop: make(chan struct{}), tokens: map[string]string{}, acks: map[sendID]ackInfo{}}
	for i := 0; i < cfg.Users; i++ {
		w.users = append(w.users, fmt.Sprintf("u%03d", i))
	}
	return w
}

// token mints (once per key) the JWT a real client would get from its
// backend: HS256 with sub and exp, as the nodes require.
func (w *Workload) token(key string) string {
	w.tokenMu.Lock()
	defer w.tokenMu.Unlock()
	if t, ok := w.tokens[key]; ok {
		return t
	}
	t, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": key, "iat": time.Now().Unix(), "exp": time.Now().Add(6 * time.Hour).Unix(),
	}).SignedString(w.secret)
	if err != nil {
		panic(err) // HS256 with a non-empty key cannot fail
	}
	w.tokens[key] = t
	return t
}

// Start connects the receivers, then starts the senders.
func (w *Workload) Start(ctx context.Context) {
	rctx, cancel := context.WithCancel(ctx)
	w.cancel, w.recvCtx = cancel, rctx
	for i, u := range w.users {
		// Each user's receiver stays connected for the whole run (it
		// reconnects with since= after a fault), so every message
		// acknowledged to it must reach it: the checker's Live check.
		w.rec.Watch(u)
		r := &receiver{key: u, idx: i}
		w.recvs = append(w.recvs, r)
		w.recvWG.Add(1)
		go func() { defer w.recvWG.Done(); w.receive(rctx, r) }()
	}
	for i := 0; i < w.cfg.Senders; i++ {
		w.sendWG.Add(1)
		go func() { defer w.sendWG.Done(); w.sender(ctx, i) }()
	}
}

// StopSending lets every sender finish the send it is in (so that unknown
// outcomes get their chance to resolve) and waits at most bound.
func (w *Workload) StopSending(bound time.Duration) error {
	close(w.stop)
	done := make(chan struct{})
	go func() { w.sendWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(bound):
		return fmt.Errorf("senders still busy %s after the stop", bound)
	}
}

// StopReceiving closes every receiving connection.
func (w *Workload) StopReceiving() {
	w.cancel()
	w.recvWG.Wait()
}

func (w *Workload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *Workload) sender(ctx context.Context, idx int) {
	from := fmt.Sprintf("s%02d", idx)
	rng := rand.New(rand.NewPCG(uint64(idx), uint64(time.Now().UnixNano())))
	l := &link{w: w, key: from, idx: idx}
	defer l.drop()
	for n := 1; !w.stopped() && ctx.Err() == nil; n++ {
		to := w.users[rng.IntN(len(w.users))]
		w.sendOne(ctx, l, from, to, fmt.Sprintf("%s-%d", from, n), n)
		select {
		case <-time.After(w.cfg.Interval):
		case <-w.stop:
		case <-ctx.Done():
		}
	}
}

// sendOne is one logical send: the same id is retried until it is
// acknowledged or the budget runs out. An RPC error is a definite failure
// of that try; a timeout or a broken connection is unknown (the write may
// have been stored), and the connection is replaced in case it is wedged.
// Three definite refusals in a row (a node in a minority answers 1003)
// also move the sender to another node, as a real client would.
func (w *Workload) sendOne(ctx context.Context, l *link, from, to, id string, n int) {
	sp := w.tl.Begin(time.Now())
	deadline := time.Now().Add(w.cfg.SendBudget)
	data := map[string]any{"n": n, "from": from}
	backoff, refusals := 50*time.Millisecond, 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c, err := l.get(ctx)
		if err != nil {
			sleepCtx(ctx, backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		actx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
		res, err := c.Send(actx, to, data, id)
		cancel()
		w.attempts.Add(1)
		var rpc *client.RPCError
		switch {
		case err == nil:
			w.rec.Attempt(to, from, id, checker.Acked, res.Seq)
			w.acked.Add(1)
			w.noteAck(sendID{to, from, id}, ackInfo{seq: res.Seq, at: time.Now(), via: c.Welcome().Node})
			w.tl.End(sp, time.Now(), true)
			return
		case errors.As(err, &rpc):
			w.rec.Attempt(to, from, id, checker.Failed, 0)
			w.failed.Add(1)
			if refusals++; refusals >= 3 {
				l.drop()
				l.idx++
				refusals = 0
			}
		default:
			w.rec.Attempt(to, from, id, checker.Unknown, 0)
			w.unknown.Add(1)
			l.drop()
			l.idx++
		}
		sleepCtx(ctx, backoff)
		backoff = min(2*backoff, time.Second)
	}
	w.gaveUp.Add(1)
	w.tl.End(sp, time.Now(), false)
}

// sendID names one logical send, as the checker does.
type sendID struct{ to, from, id string }

// ackInfo is when and through which node a send was acknowledged.
type ackInfo struct {
	seq uint64
	at  time.Time
	via string
}

func (w *Workload) noteAck(k sendID, a ackInfo) {
	w.ackMu.Lock()
	defer w.ackMu.Unlock()
	w.acks[k] = a
}

// link is one key's current connection, dialled to the next node that
// answers, starting from the key's preferred one so keys spread over nodes.
type link struct {
	w     *Workload
	key   string
	idx   int
	c     *client.Conn
	since *uint64
}

func (l *link) get(ctx context.Context) (*client.Conn, error) {
	if l.c != nil {
		select {
		case <-l.c.Done():
			l.c = nil
		default:
			return l.c, nil
		}
	}
	eps := l.w.endpoints()
	var last error
	for i := range eps {
		u := eps[(l.idx+i)%len(eps)]
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		c, err := client.Dial(dctx, u, client.Options{Token: l.w.token(l.key), Since: l.since})
		cancel()
		if err == nil {
			l.c, l.idx = c, (l.idx+i)%len(eps)
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no node took %s: %w", l.key, last)
}

// drop closes the connection in the background: closing one to a frozen
// node takes seconds, which the sender should not wait for.
func (l *link) drop() {
	if l.c != nil {
		go l.c.Close()
		l.c = nil
	}
}

// Progress is a one-line summary for the log.
func (w *Workload) Progress() string {
	return fmt.Sprintf("attempts=%d acked=%d unknown=%d failed=%d gave_up=%d delivered=%d",
		w.attempts.Load(), w.acked.Load(), w.unknown.Load(), w.failed.Load(), w.gaveUp.Load(), w.delivered())
}
