package conn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/inflight"
	"golang.org/x/time/rate"
)

// Close codes of the client protocol beyond the standard ones.
const (
	closeUnauthorized = 4001
	closeForbidden    = 4003
	closePolicy       = 4008
	closeSlowConsumer = 4009
)

// serveWS checks everything it can before the upgrade, then hands the
// connection to serve. Refusals of plain requests are HTTP errors with a
// JSON body; a WebSocket upgrade from a refused origin or with a bad token
// is upgraded and closed with 4003 or 4001 and the reason, which a browser
// can read (a refused upgrade reaches a page only as close 1006).
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		writeError(w, shardgate.Errorf(shardgate.KindUnavailable, "node is shutting down: connect to another node"))
		return
	}
	if ok, origin := s.origins.allowed(r); !ok {
		s.log.Warn("client connection refused: origin not allowed", "origin", origin, "host", r.Host, "remote", r.RemoteAddr)
		err := shardgate.Errorf(shardgate.KindForbidden, "origin %s is not allowed on this node", origin)
		if websocket.IsWebSocketUpgrade(r) {
			s.refuseUpgraded(w, r, closeForbidden, shardgate.UserMessage(err))
			return
		}
		writeError(w, err)
		return
	}
	claims, err := s.auth.Authenticate(r)
	if err != nil {
		if websocket.IsWebSocketUpgrade(r) {
			s.refuseUpgraded(w, r, closeUnauthorized, shardgate.UserMessage(err))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="shardgate"`)
		writeError(w, err)
		return
	}
	since, mode, err := parseSince(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ws, err := s.upgrader.Upgrade(steadyHijacker{ResponseWriter: w, slack: s.cfg.WriteTimeout / 4}, r, nil)
	if err != nil {
		return // the upgrader has answered already
	}
	s.m.ConnectionsTotal.Inc()
	c := &conn{
		s: s, ws: ws, id: s.nextID.Add(1), key: claims.Key, claims: claims,
		lim:       rate.NewLimiter(s.cfg.RateLimit, s.cfg.RateBurst),
		reqs:      inflight.New(int64(s.cfg.MaxInFlight), s.cfg.MaxInFlightBytes),
		delivery:  delivery{filling: true}, // live deliveries wait for the start point
		startMode: mode, since: since,
	}
	if code, reason := s.register(c); code != 0 {
		s.m.ConnectionsClosed.WithLabelValues(strconv.Itoa(code)).Inc()
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline(s.cfg.WriteTimeout))
		ws.Close()
		return
	}
	s.m.Connections.Inc()
	c.serve()
}

// refuseUpgraded upgrades r only to close it at once with code and reason:
// a browser sees nothing of a refused upgrade but close code 1006, the same
// as for a node that is down, while a close frame tells the page why. The
// connection carries nothing else, so a page of a refused origin learns
// only the reason. It waits
// briefly for the client's close echo so the frame is not lost to a reset.
func (s *Server) refuseUpgraded(w http.ResponseWriter, r *http.Request, code int, reason string) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered already
	}
	defer ws.Close()
	s.m.ConnectionsClosed.WithLabelValues(strconv.Itoa(code)).Inc()
	msg := websocket.FormatCloseMessage(code, truncateReason(reason))
	if ws.WriteControl(websocket.CloseMessage, msg, deadline(s.cfg.WriteTimeout)) != nil {
		return
	}
	ws.SetReadLimit(1024)
	ws.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
	}
}

// startMode is where a connection's delivery begins (docs/PROTOCOL.md).
type startMode uint8

const (
	startCursor startMode = iota // no since: after the key's ack cursor (0 if it never acked)
	startSince                   // since=SEQ: after SEQ
	startNow                     // since=now: live delivery only
)

// parseSince reads the optional since query parameter: a seq or "now".
func parseSince(r *http.Request) (since uint64, mode startMode, err error) {
	q := r.URL.Query()
	if !q.Has("since") {
		return 0, startCursor, nil
	}
	v := q.Get("since")
	if v == "now" {
		return 0, startNow, nil
	}
	since, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, startCursor, shardgate.Errorf(shardgate.KindInvalid, "since must be a non-negative integer or \"now\", got %q", v)
	}
	return since, startSince, nil
}

// start attaches the key, sends the welcome frame and sets the delivery
// start point: since=SEQ if given; the inbox head for since=now; else the
// stored ack cursor, which is 0 for a key that never acked, so everything
// the inbox retains is replayed (a client that reconnects without since
// misses nothing that arrived while it was away). It returns a close code
// when the connection cannot start.
func (c *conn) start() (closeCode int, reason string) {
	ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	att, err := c.s.backend.Attach(ctx, c.key)
	if err != nil {
		return c.startFailure("attach", err)
	}
	c.attached = true
	var begin uint64
	switch c.startMode {
	case startSince:
		begin = c.since
	case startNow:
		begin = att.LastSeq
	default:
		cur, err := c.s.backend.Cursor(ctx, c.key)
		if err != nil {
			return c.startFailure("cursor", err)
		}
		begin = cur
	}
	// Retention removed everything below first: a replay from further back
	// starts there (the welcome says so) instead of meeting a hole.
	first := max(att.FirstSeq, 1)
	begin = max(begin, first-1)
	// A start beyond the inbox's end (a client that kept a seq through a
	// loss of the inbox's tail, or a made-up one) replays nothing, and every
	// message acknowledged from now on is delivered: starting there would
	// hide the next messages, up to that seq, from this connection for
	// good. The welcome's last_seq tells the client where the inbox is.
	begin = min(begin, att.LastSeq)
	node := att.Node
	if node == "" {
		node = c.s.cfg.NodeName
	}
	welcome, err := encodeNotification("welcome", welcomeParams{
		Key: c.key, Node: node, Shard: att.Shard, LastSeq: att.LastSeq, FirstSeq: first, Session: newSession(),
	})
	if err != nil {
		return websocket.CloseInternalServerErr, "internal error"
	}
	c.startDelivery(welcome, begin, att.LastSeq)
	return 0, ""
}

func (c *conn) startFailure(what string, err error) (int, string) {
	c.s.log.Warn("client connection cannot start", "key", c.key, "step", what, "err", err)
	code := websocket.CloseInternalServerErr
	if shardgate.KindOf(err) == shardgate.KindUnavailable {
		code = websocket.CloseTryAgainLater
	}
	return code, shardgate.UserMessage(err)
}

type welcomeParams struct {
	Key      string `json:"key"`
	Node     string `json:"node"`
	Shard    int    `json:"shard"`
	LastSeq  uint64 `json:"last_seq"`
	FirstSeq uint64 `json:"first_seq"`
	Session  string `json:"session"`
}

func newSession() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeError answers a refused upgrade as the admin API does:
// {"error": {"code", "message"}} with the status of the error's kind.
func writeError(w http.ResponseWriter, err error) {
	kind := shardgate.KindOf(err)
	if errors.Is(err, context.DeadlineExceeded) {
		kind = shardgate.KindUnavailable
	}
	writeJSONError(w, kind.HTTPStatus(), kind.String(), shardgate.UserMessage(err))
}

// writeHTTPError answers the upgrader's own refusals (bad handshake, origin).
func writeHTTPError(w http.ResponseWriter, status int, msg string) {
	kind := shardgate.KindInvalid
	if status == http.StatusForbidden {
		kind = shardgate.KindForbidden
	}
	writeJSONError(w, status, kind.String(), msg)
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
