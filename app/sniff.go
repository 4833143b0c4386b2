package app

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// sniffListener serves TLS and plain HTTP on one port, told apart by the
// first byte (a TLS handshake record starts with 0x16, an HTTP request with
// a letter). The public listener needs it when node links use TLS but
// clients do not: the links share the client port. Each connection's first
// byte is awaited in its own goroutine, bounded by timeout, so a silent
// client never holds up Accept.
type sniffListener struct {
	net.Listener
	conf    *tls.Config
	timeout time.Duration

	out  chan net.Conn
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	waiting map[net.Conn]struct{} // not yet sniffed: closed by Close
	err     error                 // why the accept loop stopped
}

func newSniffListener(ln net.Listener, conf *tls.Config, timeout time.Duration) *sniffListener {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	l := &sniffListener{Listener: ln, conf: conf, timeout: timeout,
		out: make(chan net.Conn), done: make(chan struct{}), waiting: make(map[net.Conn]struct{})}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *sniffListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			close(l.done)
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.waiting[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.sniff(c)
	}
}

func (l *sniffListener) sniff(c net.Conn) {
	defer l.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(l.timeout))
	br := bufio.NewReaderSize(c, 512)
	first, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	l.mu.Lock()
	delete(l.waiting, c)
	l.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	var conn net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == 0x16 { // TLS handshake record
		conn = tls.Server(conn, l.conf)
	}
	select {
	case l.out <- conn:
	case <-l.done:
		conn.Close()
	}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.out:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

// Close stops accepting, closes connections still being sniffed and waits
// for every goroutine of the listener.
func (l *sniffListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.wg.Wait()
		return nil
	}
	l.closed = true
	for c := range l.waiting {
		c.Close()
	}
	l.mu.Unlock()
	err := l.Listener.Close() // ends acceptLoop, which closes done
	l.wg.Wait()
	return err
}

// peekedConn reads the sniffed bytes before the rest of the connection.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// NetConn lets the connection caps find the counted connection beneath.
func (c *peekedConn) NetConn() net.Conn { return c.Conn }
