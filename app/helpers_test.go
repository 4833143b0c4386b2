package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startNode runs a one-node cluster on loopback ports with mut applied to
// its config, and kills it when the test ends.
func startNode(tb testing.TB, mut func(*Config)) *Server {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Name = "t1"
	cfg.DataDir = filepath.Join(tb.TempDir(), "t1")
	cfg.GossipAddr = freeAddr(tb)
	cfg.WSAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Partitions = 8
	cfg.Insecure, cfg.Local, cfg.NoSync = true, true, true
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		s.Kill()
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(s.Kill)
	return s
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// hostOf strips the scheme from a node URL.
func hostOf(url string) string {
	_, rest, _ := strings.Cut(url, "://")
	return rest
}

// rawConn opens a TCP connection from the local address src ("" = any) and
// closes it when the test ends.
func rawConn(tb testing.TB, src, addr string) net.Conn {
	tb.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// get sends one keep-alive GET on c and reads the response.
func get(tb testing.TB, c net.Conn, br *bufio.Reader, path string) (*http.Response, string) {
	tb.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		tb.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("read response to GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// waitClosed reads from c until the server closes it, and fails if that
// takes longer than limit. Whatever the server answered first is returned.
func waitClosed(tb testing.TB, c net.Conn, limit time.Duration) string {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("connection still open after %v (got %q)", limit, got)
	}
	return string(got)
}
