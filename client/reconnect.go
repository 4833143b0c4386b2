package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardgate/shardgate"
)

// run is the client's supervisor: it keeps one connection up until the
// client stops, and owns every connection it opens.
func (c *Client) run() {
	var conn *Conn
	target := "" // a URL to try first: the last moved hint
	attempt := 0
	for c.ctx.Err() == nil {
		if conn == nil {
			var err error
			var url string
			conn, url, err = c.connect(target)
			target = ""
			if err != nil {
				if fatal(err, c.cfg.TokenFunc != nil) {
					c.fail(err)
					return
				}
				attempt++
				c.cfg.Logger.Info("shardgate connection attempt failed", "key", c.cfg.Key, "url", url, "attempt", attempt, "err", err)
				c.state(State{URL: url, Attempt: attempt, Err: err})
				c.wait(c.cfg.backoff(attempt))
				continue
			}
		}
		started := time.Now()
		next, hint, err := c.serve(conn)
		conn, target = next, hint
		if next != nil {
			continue // followed a moved hint: already connected
		}
		if fatal(err, c.cfg.TokenFunc != nil) {
			c.fail(err)
			return
		}
		// A connection that lived a while earns a fresh start; one that
		// ends at once (a node refusing us) keeps backing off.
		if time.Since(started) > c.cfg.MaxBackoff {
			attempt = 0
		}
		attempt++
		c.state(State{Attempt: attempt, Err: err})
		if target == "" {
			c.wait(c.cfg.backoff(attempt))
		}
	}
}

// fatal reports whether a refusal cannot be fixed by retrying: a token
// the node rejects (unless a fresh one can be fetched) or a forbidden
// origin.
func fatal(err error, canRenewToken bool) bool {
	switch shardgate.KindOf(err) {
	case shardgate.KindUnauthorized:
		return !canRenewToken
	case shardgate.KindForbidden:
		return true
	}
	return false
}

// serve runs one connection until it ends (next == nil; err says how) or
// a moved hint was followed (next is the new connection). hint is a URL to
// try first on reconnecting.
func (c *Client) serve(conn *Conn) (next *Conn, hint string, err error) {
	if c.connections.Add(1) > 1 {
		c.cfg.Logger.Info("shardgate client reconnected", "key", c.cfg.Key, "node", conn.Welcome().Node)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.in.fill(ctx, conn, c.cfg.CallTimeout) })
	signal(c.in.wake) // behind from the last connection: fill now
	c.setConn(conn)
	c.state(State{Connected: true, Node: conn.Welcome().Node, URL: conn.url})
	defer func() {
		cancel()
		wg.Wait()
	}()

	var movedSince time.Time
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			c.setConn(nil)
			conn.Close()
			return nil, "", ErrClientClosed
		case <-conn.Done():
			c.setConn(nil)
			err := closedError(conn)
			c.cfg.Logger.Info("shardgate connection ended", "key", c.cfg.Key, "node", conn.Welcome().Node, "err", err)
			return nil, c.takeMoved(), err
		case <-c.movedCh:
			if movedSince.IsZero() {
				movedSince = time.Now()
			}
		case <-tick.C:
		}
		if movedSince.IsZero() || (c.inflight.Load() > 0 && time.Since(movedSince) < c.cfg.MovedDelay) {
			continue
		}
		movedSince = time.Time{}
		url := c.takeMoved()
		if url == "" {
			continue
		}
		// Make before break: the new connection replays after the last
		// queued seq while the old one still delivers; the inbox drops
		// what both deliver.
		nc, err := c.dial(url)
		if err != nil {
			c.cfg.Logger.Info("shardgate moved hint not followed", "key", c.cfg.Key, "url", url, "err", err)
			continue
		}
		c.setConn(nil)
		conn.Close()
		return nc, "", nil
	}
}

// closedError says how a connection ended, as the error kind its close
// code means.
func closedError(conn *Conn) error {
	code := conn.CloseCode()
	err := fmt.Errorf("%w (close code %d)", ErrClosed, code)
	switch code {
	case closeUnauthorized:
		return &shardgate.Error{Kind: shardgate.KindUnauthorized, Message: "connection closed: unauthorized (token expired?)", Err: err}
	case closeForbidden:
		return &shardgate.Error{Kind: shardgate.KindForbidden, Message: "connection closed: forbidden", Err: err}
	}
	return err
}

// connect opens a connection: to target when given, else to the key's
// home as a node of cfg.Nodes names it, else to that node itself. The
// nodes are tried in turn, starting at a random one.
func (c *Client) connect(target string) (*Conn, string, error) {
	if target != "" {
		if conn, err := c.dial(target); err == nil {
			return conn, target, nil
		}
	}
	nodes := c.cfg.Nodes
	start := int(c.cfg.Rand() * float64(len(nodes)))
	var lastErr error
	var lastURL string
	for i := range nodes {
		node, _ := wsURL(nodes[(start+i)%len(nodes)]) // checked by Validate
		if c.cfg.Key != "" {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
			r, err := Route(ctx, node, c.cfg.Key)
			cancel()
			if err == nil && r.WSURL != "" && r.WSURL != node {
				conn, err := c.dial(r.WSURL)
				if err == nil || fatal(err, c.cfg.TokenFunc != nil) {
					return conn, r.WSURL, err
				}
			}
		}
		conn, err := c.dial(node)
		if err == nil || fatal(err, c.cfg.TokenFunc != nil) || c.ctx.Err() != nil {
			return conn, node, err
		}
		lastErr, lastURL = err, node
	}
	return nil, lastURL, lastErr
}

// dial opens one connection to url, resuming after the last queued seq.
func (c *Client) dial(url string) (*Conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
	defer cancel()
	opts := Options{User: c.cfg.User, Token: c.cfg.Token, Dialer: c.cfg.Dialer, Since: c.in.resumeFrom(), BufferSize: 1, IdleTimeout: c.cfg.IdleTimeout, onNotify: c.onNotify}
	if c.cfg.TokenFunc != nil {
		tok, err := c.cfg.TokenFunc(ctx)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		opts.Token = tok
	}
	conn, err := Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	if err := c.resubscribe(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// resubscribe subscribes a new connection to the client's topics. A topic
// the token does not allow (anymore) is dropped and logged.
func (c *Client) resubscribe(ctx context.Context, conn *Conn) error {
	c.mu.Lock()
	topics := make([]string, 0, len(c.topics))
	for t := range c.topics {
		topics = append(topics, t)
	}
	c.mu.Unlock()
	for _, t := range topics {
		err := conn.Subscribe(ctx, t)
		var re *RPCError
		// A node that is busy or rate-limits the burst of subscriptions
		// gets a few more tries on the same connection: failing the whole
		// connection would only start the burst again on the next one.
		for attempt := 1; attempt <= 5 && errors.As(err, &re) && re.Retryable(); attempt++ {
			if werr := c.waitCtx(ctx, c.cfg.backoff(attempt)); werr != nil {
				break
			}
			err = conn.Subscribe(ctx, t)
		}
		if errors.As(err, &re) && !re.Retryable() {
			c.cfg.Logger.Warn("shardgate topic dropped on reconnect", "topic", t, "err", err)
			c.mu.Lock()
			delete(c.topics, t)
			c.mu.Unlock()
			continue
		}
		if err != nil {
			return fmt.Errorf("resubscribe %q: %w", t, err)
		}
	}
	return nil
}
