package testutil

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out in this test binary
)

// FreePort returns a port on 127.0.0.1 that is free for TCP and UDP alike
// (memberlist binds both) and that no earlier call in this test binary
// returned. The kernel may hand a just-closed port out again at once; a
// node restarted in the same test would then find its neighbour's port, so
// every port is given out once only.
func FreePort(tb testing.TB) int {
	tb.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testutil: find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if ports[port] {
			l.Close()
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			ports[port] = true
			return port
		}
	}
	tb.Fatal("testutil: no port free for both TCP and UDP after 200 tries")
	return 0
}

// FreeAddr is FreePort as "127.0.0.1:PORT".
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(tb))
}
