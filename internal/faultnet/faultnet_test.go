package faultnet_test

import (
	"errors"
	"io"
	"log"
	"net"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"

	"github.com/shardgate/shardgate/internal/faultnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	addrA = "10.0.0.1:7946"
	addrB = "10.0.0.2:7946"
)

// delivered reports whether from → to carries a packet right now. Delivery is
// synchronous, so no waiting is needed.
func delivered(t *testing.T, from, to memberlist.NodeAwareTransport, toAddr string) bool {
	t.Helper()
	if _, err := from.WriteTo([]byte("ping"), toAddr); err != nil {
		t.Fatalf("WriteTo %s: %v", toAddr, err)
	}
	select {
	case p := <-to.PacketCh():
		if string(p.Buf) != "ping" {
			t.Fatalf("got packet %q", p.Buf)
		}
		return true
	default:
		return false
	}
}

func TestPacketsFollowRules(t *testing.T) {
	n := faultnet.New()
	a, b := n.Transport(addrA), n.Transport(addrB)
	defer a.Shutdown()
	defer b.Shutdown()

	check := func(step string, ab, ba bool) {
		t.Helper()
		if got := delivered(t, a, b, addrB); got != ab {
			t.Errorf("%s: a→b delivered=%v, want %v", step, got, ab)
		}
		if got := delivered(t, b, a, addrA); got != ba {
			t.Errorf("%s: b→a delivered=%v, want %v", step, got, ba)
		}
		if n.Allowed(addrA, addrB) != ab || n.Allowed(addrB, addrA) != ba {
			t.Errorf("%s: Allowed disagrees with delivery", step)
		}
	}

	check("open", true, true)
	n.Cut(addrA, addrB)
	check("cut", false, false)
	n.Heal()
	check("healed", true, true)
	n.CutOneWay(addrA, addrB)
	check("one way", false, true)
	n.Heal()
	n.Isolate("10.0.0.2") // a bare host matches every port on it
	check("isolated host", false, false)
	if n.Allowed("10.0.0.2:8080", "10.0.0.1:8080") {
		t.Error("host rule must cover other ports of the host")
	}
	n.Heal()
	n.Cut("10.0.0.1", "10.0.0.2")
	check("host cut", false, false)
	n.Heal()
	check("healed again", true, true)
}

func TestPacketFromCarriesSenderAddress(t *testing.T) {
	n := faultnet.New()
	a, b := n.Transport(addrA), n.Transport(addrB)
	defer a.Shutdown()
	defer b.Shutdown()
	if _, err := a.WriteTo([]byte("x"), addrB); err != nil {
		t.Fatal(err)
	}
	p := <-b.PacketCh()
	if p.From.String() != addrA {
		t.Fatalf("From = %s, want %s", p.From, addrA)
	}
	ip, port, err := b.FinalAdvertiseAddr("", 0)
	if err != nil || ip.String() != "10.0.0.2" || port != 7946 {
		t.Fatalf("FinalAdvertiseAddr = %v %d %v", ip, port, err)
	}
}

func TestDialAcrossCutTimesOutQuickly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := faultnet.New()
		a, b := n.Transport(addrA), n.Transport(addrB)
		defer a.Shutdown()
		defer b.Shutdown()
		n.Cut(addrA, addrB)

		start := time.Now()
		_, err := a.DialTimeout(addrB, 10*time.Second)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("dial across a cut: %v, want a timeout", err)
		}
		if d := time.Since(start); d <= 0 || d > time.Second {
			t.Fatalf("dial across a cut took %v, want a short wait", d)
		}
	})
}

func TestDialToNobodyIsRefused(t *testing.T) {
	n := faultnet.New()
	a := n.Transport(addrA)
	defer a.Shutdown()
	_, err := a.DialTimeout(addrB, time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to nobody: %v, want connection refused", err)
	}
}

func TestDialNotAcceptedTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := faultnet.New()
		a, b := n.Transport(addrA), n.Transport(addrB)
		defer a.Shutdown()
		defer b.Shutdown()
		start := time.Now()
		_, err := a.DialTimeout(addrB, 3*time.Second) // nobody reads b.StreamCh
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) != 3*time.Second {
			t.Fatalf("dial not accepted: %v after %v, want a timeout after 3s", err, time.Since(start))
		}
	})
}

// accept returns the server end of the next stream.
func accept(t *testing.T, tr memberlist.NodeAwareTransport) net.Conn {
	t.Helper()
	select {
	case c := <-tr.StreamCh():
		return c
	case <-time.After(time.Second):
		t.Fatal("no stream arrived")
		return nil
	}
}

func TestStreamsCarryDataAndBreakOnCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := faultnet.New()
		a, b := n.Transport(addrA), n.Transport(addrB)
		defer a.Shutdown()
		defer b.Shutdown()

		srv := make(chan net.Conn, 1)
		go func() { srv <- accept(t, b) }()
		client, err := a.DialTimeout(addrB, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server := <-srv
		defer server.Close()
		if server.RemoteAddr().String() != addrA || client.RemoteAddr().String() != addrB {
			t.Fatalf("addresses: server sees %s, client sees %s", server.RemoteAddr(), client.RemoteAddr())
		}

		go func() { _, _ = client.Write([]byte("hello")) }()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("read %q, %v", buf, err)
		}

		n.CutOneWay(addrB, addrA) // one direction is enough to break a stream
		if _, err := server.Read(buf); err == nil {
			t.Fatal("read on a cut stream succeeded")
		}
		if _, err := client.Write([]byte("x")); err == nil {
			t.Fatal("write on a cut stream succeeded")
		}
	})
}

func TestShutdownFailsFastAndFreesTheAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := faultnet.New()
		a, b := n.Transport(addrA), n.Transport(addrB)
		defer a.Shutdown()

		srv := make(chan net.Conn, 1)
		go func() { srv <- accept(t, b) }()
		client, err := a.DialTimeout(addrB, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		<-srv

		if err := b.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Read(make([]byte, 1)); err == nil {
			t.Fatal("stream to a shut-down transport still open")
		}
		if _, err := b.WriteTo([]byte("x"), addrA); !errors.Is(err, faultnet.ErrShutdown) {
			t.Fatalf("write from a shut-down transport: %v", err)
		}
		if _, err := b.DialTimeout(addrA, time.Second); !errors.Is(err, faultnet.ErrShutdown) {
			t.Fatalf("dial from a shut-down transport: %v", err)
		}
		for range 2 * 1024 { // more than the queue holds: must never block
			if _, err := a.WriteTo([]byte("x"), addrB); err != nil {
				t.Fatalf("write to a shut-down transport: %v", err)
			}
		}
		if _, err := a.DialTimeout(addrB, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial to a shut-down transport: %v", err)
		}

		b2 := n.Transport(addrB) // a restart at the same address
		defer b2.Shutdown()
		if !delivered(t, a, b2, addrB) {
			t.Fatal("restarted transport gets no packets")
		}
	})
}

func TestTransportPanicsOnAddressInUse(t *testing.T) {
	n := faultnet.New()
	a := n.Transport(addrA)
	defer a.Shutdown()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an address in use")
		}
	}()
	n.Transport(addrA)
}

// TestMemberlistDetectsIsolatedNode runs memberlist itself on the network:
// two nodes join, one is isolated and declared dead, the network heals and a
// join brings it back.
func TestMemberlistDetectsIsolatedNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := faultnet.New()
		mk := func(name, addr string) *memberlist.Memberlist {
			c := memberlist.DefaultLocalConfig()
			c.Name = name
			c.Transport = n.Transport(addr)
			c.Logger = log.New(io.Discard, "", 0)
			m, err := memberlist.Create(c)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		m1, m2 := mk("a", addrA), mk("b", addrB)
		defer func() {
			_ = m1.Shutdown()
			_ = m2.Shutdown()
			// memberlist's probe goroutine outlives Shutdown until its
			// timers fire; fake time must pass before the bubble ends.
			time.Sleep(time.Minute)
		}()
		if _, err := m2.Join([]string{addrA}); err != nil {
			t.Fatal(err)
		}
		waitMembers(t, m1, 2)

		n.Isolate(addrB)
		waitMembers(t, m1, 1)
		n.Heal()
		if _, err := m2.Join([]string{addrA}); err != nil {
			t.Fatal(err)
		}
		waitMembers(t, m1, 2)
	})
}

func waitMembers(t *testing.T, m *memberlist.Memberlist, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for m.NumMembers() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d members after a minute, want %d", m.NumMembers(), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
