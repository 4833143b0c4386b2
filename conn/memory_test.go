package conn

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/internal/testutil"
)

// Environment of the idle-memory benchmark.
const (
	envIdleConns  = "SHARDGATE_IDLE_CONNS"  // how many connections (default 2000)
	envIdleInProc = "SHARDGATE_IDLE_INPROC" // "1": dial from this process too
	envIdleURL    = "SHARDGATE_IDLE_HELPER_URL"
)

// BenchmarkIdleConnMemory opens N authenticated connections that then stay
// idle, and reports the server's heap and stack growth per connection.
//
// By default the dialing side runs in a child process (this test binary
// running TestIdleDialHelper), so the figure is the server's alone; with
// SHARDGATE_IDLE_INPROC=1 both ends live in this process and are counted.
// It measures once whatever b.N is: run it with -benchtime=1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	n := 2000
	if v := os.Getenv(envIdleConns); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", envIdleConns, v)
		}
	}
	h := newHarness(b, nil)
	warm := dialIdle(b, h.url, 0, 1) // one-time allocations happen before the baseline
	defer closeAll(warm)
	waitIdle(b, h.srv, 1)
	before, beforeStack := memInUse()

	var conns []*websocket.Conn
	if os.Getenv(envIdleInProc) == "1" {
		conns = dialIdle(b, h.url, 1, n)
		defer closeAll(conns)
	} else {
		stop := dialInChild(b, h.url, n)
		defer stop()
	}
	waitIdle(b, h.srv, n+1)
	after, afterStack := memInUse()
	perConn := float64(int64(after)-int64(before)) / float64(n)
	stack := float64(int64(afterStack)-int64(beforeStack)) / float64(n)
	b.ReportMetric(perConn, "B/conn")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d idle connections: %.0f B/conn, of which %.0f B stack (heap+stack in use %d → %d)", n, perConn, stack, before, after)
}

// memInUse is heap plus stack in use after the garbage is gone, and the
// stack part of it.
func memInUse() (total, stack uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, ms.StackInuse
}

// waitIdle waits until the server has n connections and none of them has
// a writer or filler running.
func waitIdle(b testing.TB, s *Server, n int) {
	testutil.Eventually(b, 5*time.Second, fmt.Sprintf("%d idle connections", n), func() bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if len(s.conns) != n {
			return false
		}
		for c := range s.conns {
			c.mu.Lock()
			busy := c.writing || c.filling || !c.ready
			c.mu.Unlock()
			if busy {
				return false
			}
		}
		return true
	})
}

// dialIdle opens n connections for keys idle-first… with small buffers and
// no goroutine of their own, reading only the welcome frame.
func dialIdle(tb testing.TB, url string, first, n int) []*websocket.Conn {
	d := &websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 512, HandshakeTimeout: 10 * time.Second}
	conns := make([]*websocket.Conn, 0, n)
	for i := first; i < first+n; i++ {
		tok, err := MintToken(testSecret, fmt.Sprintf("idle-%d", i), time.Hour, nil, nil, nil)
		if err != nil {
			tb.Fatal(err)
		}
		ws, _, err := d.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			tb.Fatalf("dial %d: %v", i, err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			tb.Fatalf("welcome %d: %v", i, err)
		}
		conns = append(conns, ws)
	}
	return conns
}

func closeAll(conns []*websocket.Conn) {
	for _, ws := range conns {
		ws.Close()
	}
}

// dialInChild runs TestIdleDialHelper in a child process and returns once
// its n connections are open; the returned func closes them.
func dialInChild(b *testing.B, url string, n int) (stop func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleDialHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envIdleURL+"="+url, envIdleConns+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	return func() {
		stdin.Close()
		cmd.Wait()
	}
}

// TestIdleDialHelper is the child half of BenchmarkIdleConnMemory: it
// holds the connections until its stdin closes. It does nothing in a normal
// test run.
func TestIdleDialHelper(t *testing.T) {
	url := os.Getenv(envIdleURL)
	if url == "" {
		t.Skip("only runs as the benchmark's child process")
	}
	n, _ := strconv.Atoi(os.Getenv(envIdleConns))
	conns := dialIdle(t, url, 1, n)
	fmt.Println("ready")
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			break
		}
	}
	closeAll(conns)
}
