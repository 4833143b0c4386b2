package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/inflight"
	"golang.org/x/time/rate"
)

// conn is one client connection. The fields above mu belong to the
// handshake and then to the reader goroutine (the handler only reads key,
// claims and sendLim, which no longer change once the reader runs); mu
// guards the rest, shared with the handler, the writer, the filler and the
// engine's deliveries.
type conn struct {
	s            *Server
	ws           *websocket.Conn
	id           uint64
	key          string
	claims       Claims
	lim          *rate.Limiter
	sendLim      *rate.Limiter   // the key's send quota on this node, shared by its connections
	refused      int             // rate-limited frames since refusedSince
	refusedSince time.Time       // start of the window they are counted in (rateCloseWindow)
	reqs         *inflight.Limit // requests read and not yet answered (Config.MaxInFlight)
	attached     bool
	startMode    startMode
	since        uint64
	expiry       *time.Timer // closes the connection when its token expires

	// abandon tells a writer in the middle of a batch to skip the rest:
	// set when a slow consumer is closed, whose queued frames are void.
	abandon atomic.Bool

	mu         sync.Mutex
	queue      []frame
	inflight   int           // frames the writer took and has not finished
	writing    bool          // a writer goroutine is running
	roomWait   chan struct{} // closed by the writer when the filler may go on
	readWait   chan struct{} // closed by the writer when the reader may go on
	hurry      chan struct{} // closed by enqueue to end the writer's WriteDelay
	lingered   bool          // the writer has waited WriteDelay for this batch
	answers    int           // responses queued or being written (answersFullLocked)
	answerB    int64         // their bytes (waitForAnswerRoom), also counted in Server.answerBytes
	answerWait chan struct{} // closed by the writer when the handler may go on
	closing    bool          // a close frame is queued or sent
	closeCode  int           // the code we closed with, 0 if the peer did
	closed     bool          // the reader has ended; nothing starts anymore
	batchBuf   []byte        // the writer's buffer for batch frames; only it uses it
	queued     []pending     // admitted requests waiting for the handler
	handling   bool          // a handler goroutine is running

	delivery // per-key ordering state, guarded by mu
	topics   map[string]struct{}
}

// serve starts the connection: on the handshake goroutine it attaches and
// queues the welcome, then hands the read loop to a fresh goroutine, which
// runs to the connection's end and counts itself out of wg.
//
// The handshake goroutine returns so that net/http lets go of the request. Reading on the HTTP handler goroutine
// instead would keep net/http's per-connection state (a 4 KiB reader, a
// 4 KiB writer, the request and response) alive for the whole connection:
// measured here, 23 KB per idle connection against 8 KB this way.
func (c *conn) serve() {
	// No gorilla read limit: it would close with 1009 and an empty reason
	// as soon as a frame header announces too much. readFrame applies
	// ReadLimit itself and says why it closes.
	c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
	c.ws.SetPongHandler(func(string) error { c.extendRead(); return nil })
	c.ws.SetPingHandler(func(data string) error {
		c.pong([]byte(data))
		return nil
	})
	c.ws.SetCloseHandler(c.peerClosed)
	if code, reason := c.start(); code != 0 {
		c.closeWith(code, reason, true)
	} else if exp := c.claims.Expires; !exp.IsZero() {
		// The token ends at a known time: close then, not at the next
		// round of pings, up to a PingInterval later, while the key's
		// messages would keep flowing on a token that no longer holds.
		c.expiry = time.AfterFunc(max(exp.Sub(c.s.auth.now()), 0), func() {
			c.closeWith(closeUnauthorized, reasonExpired, true)
		})
	}
	go func() {
		defer c.s.wg.Done()
		c.finish(c.readLoop())
	}()
}

// errFrameTooLarge is a client frame longer than Config.ReadLimit.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one message of at most ReadLimit bytes, reading no more
// than one byte past the limit of a longer one.
func (c *conn) readFrame() (int, []byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, c.s.cfg.ReadLimit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > c.s.cfg.ReadLimit {
		return typ, nil, errFrameTooLarge
	}
	return typ, data, nil
}

func (c *conn) readLoop() error {
	for {
		typ, data, err := c.readFrame()
		if errors.Is(err, errFrameTooLarge) {
			// What is left of the frame is discarded by the next read,
			// which the short deadline after the close frame bounds.
			c.closeWith(websocket.CloseMessageTooBig, fmt.Sprintf("frame too large: the limit is %d bytes", c.s.cfg.ReadLimit), false)
			continue
		}
		if err != nil {
			return err
		}
		c.extendRead()
		c.s.m.MessagesIn.Inc()
		if c.isClosing() {
			continue // drain until the peer answers our close
		}
		c.waitForRoom()
		if typ != websocket.TextMessage {
			c.reply(nullID, nil, &rpcError{shardgate.CodeInvalidRequest, "invalid request: frames must be text frames holding JSON"})
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 fails a connection whose text is not UTF-8. encoding/json
			// would let such bytes through inside a message's data, and the
			// stored message would then break every reader of the inbox:
			// standard clients fail on a text frame that is not UTF-8.
			c.closeWith(websocket.CloseInvalidFramePayloadData, "a text frame must hold valid UTF-8", false)
			continue
		}
		c.admit(data)
	}
}

// extendRead pushes the read deadline out, except once we are closing:
// then the short deadline set after the close frame must stand.
// It holds mu so that it cannot undo the writer's short deadline.
func (c *conn) extendRead() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing && !c.closed {
		c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
	}
}

// peerClosed answers a close frame from the client. The echo is written
// here, synchronously, because the reader ends right after and the
// connection with it; gorilla serialises it with the writer's frames. When
// we closed first, the peer's frame is the echo and needs no answer.
func (c *conn) peerClosed(code int, _ string) error {
	c.mu.Lock()
	echo := !c.closing
	c.closing = true
	c.mu.Unlock()
	if echo {
		msg := websocket.FormatCloseMessage(code, "")
		if code == websocket.CloseNoStatusReceived {
			msg = websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		}
		c.ws.WriteControl(websocket.CloseMessage, msg, deadline(c.s.cfg.WriteTimeout))
	}
	return nil
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.closed
}

// closeWith queues a close frame. With flush, frames already queued go out
// first (a moved hint before a shutdown); without, they are dropped (a slow
// consumer gets no more of them). Only the first close counts.
func (c *conn) closeWith(code int, reason string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.closed {
		return
	}
	c.closing = true
	c.closeCode = code
	f := frame{kind: frameClose, data: websocket.FormatCloseMessage(code, truncateReason(reason))}
	if !flush {
		c.abandon.Store(true)
		c.forgetAnswersLocked(answerBytes(c.queue))
		c.queue = nil
	}
	c.queue = append(c.queue, f)
	c.hurryLocked()
	c.startWriterLocked()
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows, without splitting a UTF-8 sequence.
func truncateReason(s string) string {
	return shardgate.CutUTF8(s, 123)
}

// finish releases the connection once its reader has ended.
func (c *conn) finish(readErr error) {
	c.mu.Lock()
	c.closed = true
	c.forgetAnswersLocked(answerBytes(c.queue))
	c.queue = nil
	code := c.closeCode
	topics := make([]string, 0, len(c.topics))
	for t := range c.topics {
		topics = append(topics, t)
	}
	cancelFill := c.fillCancel
	c.mu.Unlock()
	if cancelFill != nil {
		cancelFill()
	}
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.ws.Close() // unblocks a writer stuck on a dead peer
	c.s.unregister(c, topics)
	if c.attached {
		c.s.backend.Detach(c.key)
	}
	if code == 0 {
		code = peerCloseCode(readErr)
	}
	c.s.m.Connections.Dec()
	c.s.m.ConnectionsClosed.WithLabelValues(strconv.Itoa(code)).Inc()
	c.s.log.Debug("client connection closed", "key", c.key, "code", code, "err", readErr)
}

// peerCloseCode classifies how a connection ended that we did not close.
func peerCloseCode(err error) int {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig
	default:
		return websocket.CloseAbnormalClosure
	}
}

// ctx bounds one Backend call made for a request.
func (c *conn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.s.ctx, c.s.cfg.RequestTimeout)
}
