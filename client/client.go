package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
)

// Options of a connection. Token and User are alternatives: a JWT (sent as
// a bearer header, so it stays out of URLs and logs) or, against a node in
// insecure mode, a bare key.
type Options struct {
	Token string
	User  string
	// Since asks for a replay of the inbox after this seq before live
	// delivery. Nil resumes after the stored ack cursor; a key that never
	// acked replays its whole retained inbox.
	Since *uint64
	// LiveOnly (since=now) delivers only messages stored after the
	// connection starts. It is ignored when Since is set.
	LiveOnly bool
	Header   http.Header
	Dialer   *websocket.Dialer // default: 10 s handshake timeout, proxy from the environment
	// BufferSize is the capacity of the Messages and Publications
	// channels. Default 4096.
	BufferSize int

	// IdleTimeout, when positive, ends the connection (close code 1006)
	// when nothing arrives from the node for that long: no frame and no
	// ping. Nodes ping every 30 s, so 75 s or more finds a node that
	// vanished without closing (a crashed host, a network partition), which
	// TCP alone may not notice for many minutes. Default 0: none.
	IdleTimeout time.Duration

	// onNotify, when set, receives every notification on the reader
	// goroutine instead of the channels; it must not block. Client uses it.
	onNotify func(inbound)
}

// Welcome is the first frame of every connection.
type Welcome struct {
	Key     string `json:"key"`
	Node    string `json:"node"`
	Shard   int    `json:"shard"`
	LastSeq uint64 `json:"last_seq"`
	// FirstSeq is the lowest seq the inbox still keeps: retention removed
	// everything below it.
	FirstSeq uint64 `json:"first_seq"`
	Session  string `json:"session"`
}

// MovedHint says the key's home is now elsewhere; reconnect to URL when
// convenient. The connection keeps working meanwhile.
type MovedHint struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
}

// Conn is one connection. Its methods are safe for concurrent use.
type Conn struct {
	ws      *websocket.Conn
	url     string // as given to Dial
	welcome Welcome
	lastSeq atomic.Uint64

	wmu sync.Mutex // gorilla allows one writer at a time

	mu        sync.Mutex
	nextID    uint64
	calls     map[uint64]chan inbound
	closeCode int

	msgs      chan shardgate.Message
	pubs      chan shardgate.Publication
	moved     chan MovedHint
	done      chan struct{} // closed when the reader has ended
	closing   chan struct{} // closed by Close: the reader stops waiting on full channels
	closeOnce sync.Once
	onNotify  func(inbound)
	idle      time.Duration
}

var defaultDialer = &websocket.Dialer{
	Proxy:            http.ProxyFromEnvironment,
	HandshakeTimeout: 10 * time.Second,
}

// Dial connects to a node's WebSocket URL (ws://host:port/v1/ws) and returns
// once the welcome frame has arrived. A refused upgrade returns a
// *shardgate.Error of the kind the server named (errors.Is(err,
// shardgate.ErrUnauthorized) for a bad token), and so does an upgrade
// closed at once with 4001 (unauthorized) or 4003 (forbidden origin); a
// connection closed otherwise before its welcome returns an error wrapping
// *websocket.CloseError.
func Dial(ctx context.Context, wsURL string, opts Options) (*Conn, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, fmt.Errorf("dial: bad URL: %w", err)
	}
	q := u.Query()
	if opts.User != "" {
		q.Set("user", opts.User)
	}
	if opts.Since != nil {
		q.Set("since", strconv.FormatUint(*opts.Since, 10))
	} else if opts.LiveOnly {
		q.Set("since", "now")
	}
	u.RawQuery = q.Encode()
	h := opts.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if opts.Token != "" {
		h.Set("Authorization", "Bearer "+opts.Token)
	}
	d := opts.Dialer
	if d == nil {
		d = defaultDialer
	}
	ws, resp, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			defer resp.Body.Close()
			return nil, fmt.Errorf("dial %s: %w", u.Host, httpError(resp))
		}
		return nil, fmt.Errorf("dial %s: %w", u.Host, err)
	}
	welcome, err := readWelcome(ctx, ws)
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("dial %s: %w", u.Host, refusal(err))
	}
	size := opts.BufferSize
	if size <= 0 {
		size = 4096
	}
	c := &Conn{
		ws: ws, url: wsURL, welcome: welcome,
		calls:   make(map[uint64]chan inbound),
		msgs:    make(chan shardgate.Message, size),
		pubs:    make(chan shardgate.Publication, size),
		moved:   make(chan MovedHint, 16),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	if opts.Since != nil {
		c.lastSeq.Store(*opts.Since)
	} else if opts.LiveOnly {
		c.lastSeq.Store(welcome.LastSeq)
	}
	c.onNotify = opts.onNotify
	c.idle = opts.IdleTimeout
	if c.idle > 0 {
		ws.SetReadDeadline(time.Now().Add(c.idle))
		ws.SetPingHandler(c.onPing)
	}
	go c.readLoop()
	return c, nil
}

// readWelcome waits for the first frame, giving up when ctx ends.
func readWelcome(ctx context.Context, ws *websocket.Conn) (Welcome, error) {
	stop := context.AfterFunc(ctx, func() { ws.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	_, data, err := ws.ReadMessage()
	if err != nil {
		if ctx.Err() != nil {
			return Welcome{}, fmt.Errorf("waiting for welcome: %w", ctx.Err())
		}
		return Welcome{}, fmt.Errorf("connection closed before welcome: %w", err)
	}
	var in inbound
	if err := json.Unmarshal(data, &in); err != nil || in.Method != "welcome" {
		return Welcome{}, fmt.Errorf("first frame is not a welcome: %.200s", data)
	}
	var w Welcome
	if err := json.Unmarshal(in.Params, &w); err != nil {
		return Welcome{}, fmt.Errorf("bad welcome frame: %w", err)
	}
	if !stop() {
		return Welcome{}, fmt.Errorf("waiting for welcome: %w", ctx.Err())
	}
	return w, ws.SetReadDeadline(time.Time{})
}

// Welcome returns the connection's welcome frame.
func (c *Conn) Welcome() Welcome { return c.welcome }

// LastSeq is the highest inbox seq received so far, else Options.Since,
// else 0: pass it as Options.Since to resume on another connection with
// nothing missed.
func (c *Conn) LastSeq() uint64 { return c.lastSeq.Load() }

// Messages delivers the inbox in seq order. It is closed when the
// connection ends.
func (c *Conn) Messages() <-chan shardgate.Message { return c.msgs }

// Publications delivers messages of subscribed topics. It is closed when
// the connection ends.
func (c *Conn) Publications() <-chan shardgate.Publication { return c.pubs }

// Moved delivers moved hints; hints that find it full are dropped, since a
// newer one says the same.
func (c *Conn) Moved() <-chan MovedHint { return c.moved }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseCode is the WebSocket close code the connection ended with (1006
// when it broke without one), or 0 while it is open.
func (c *Conn) CloseCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode
}

// Close ends the connection with 1000 and waits for the reader to stop.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
		c.ws.Close()
		<-c.done
	})
	return nil
}
