package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out in this test binary
)

// lowestPort is where FreePort starts looking below the kernel's ephemeral
// range: clear of the well-known and registered ports most services take.
const lowestPort = 10000

// FreePort returns a port on 127.0.0.1 that is free for TCP and UDP alike
// (memberlist binds both) and that no earlier call in this test binary
// returned.
//
// The port lies below the kernel's ephemeral range when there is room
// there. A port from the ephemeral range (what binding port 0 gives) can be
// taken as the local end of any outgoing connection while its node is
// down: a node killed and restarted on the same port would then fail with
// "address already in use" when tests run in parallel. Ports below the
// range are only ever taken by an explicit bind.
func FreePort(tb testing.TB) int {
	tb.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	if lo, _, ok := ephemeralRange(); ok && lo > lowestPort+1000 {
		for range 500 {
			port := lowestPort + rand.IntN(lo-lowestPort)
			if !ports[port] && bindable(port) {
				ports[port] = true
				return port
			}
		}
	}
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testutil: find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports[port] && bindable(port) {
			ports[port] = true
			return port
		}
	}
	tb.Fatal("testutil: no port free for both TCP and UDP after 200 tries")
	return 0
}

// bindable says whether port can be bound on 127.0.0.1 for TCP and UDP.
func bindable(port int) bool {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// ephemeralRange reads the kernel's range of ports for outgoing
// connections (Linux); ok is false elsewhere.
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &hi); err != nil || lo <= 0 || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

// FreeAddr is FreePort as "127.0.0.1:PORT".
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(tb))
}
