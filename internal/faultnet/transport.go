package faultnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrShutdown is returned by the writes and dials of a transport that was
// shut down.
var ErrShutdown = errors.New("faultnet: transport is shut down")

// transport is one endpoint of a Network, implementing
// memberlist.NodeAwareTransport.
type transport struct {
	net  *Network
	addr string
	ip   net.IP
	port int

	// packetCh and streamCh are never closed: memberlist reads them until its
	// own shutdown channel fires, and a closed channel would hand it nils.
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	done     chan struct{}
	shutOnce sync.Once
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

func (t *transport) isShut() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// FinalAdvertiseAddr advertises the configured address if there is one and
// the transport's own address otherwise.
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip == "" {
		return t.ip, t.port, nil
	}
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return nil, 0, fmt.Errorf("faultnet: advertise address %q is not an IP", ip)
	}
	return parsed, port, nil
}

// WriteTo sends a packet to addr.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet. Like UDP it reports success for packets
// that are then lost: across a cut, to nobody, or into a full queue.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if t.isShut() {
		return now, ErrShutdown
	}
	t.net.mu.Lock()
	dst := t.net.lookupLocked(a.Addr)
	ok := dst != nil && t.net.allowedLocked(t.addr, a.Addr)
	t.net.mu.Unlock()
	if !ok {
		return now, nil
	}
	pkt := &memberlist.Packet{
		Buf:       append([]byte(nil), b...),
		From:      &net.UDPAddr{IP: t.ip, Port: t.port},
		Timestamp: now,
	}
	select {
	case dst.packetCh <- pkt:
	default: // queue full: dropped, as a socket buffer would
	}
	return now, nil
}

// PacketCh delivers incoming packets.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh delivers incoming streams.
func (t *transport) StreamCh() <-chan net.Conn { return t.streamCh }

// DialTimeout opens a stream to addr.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream: refused at once when nobody listens,
// timed out after a short wait when a rule is in the way, and otherwise a
// pipe handed to the listener, which must accept it within timeout.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.isShut() {
		return nil, t.dialErr(a.Addr, ErrShutdown)
	}
	t.net.mu.Lock()
	allowed := t.net.allowedLocked(t.addr, a.Addr) && t.net.allowedLocked(a.Addr, t.addr)
	dst := t.net.lookupLocked(a.Addr)
	t.net.mu.Unlock()

	var p *pair
	if allowed && dst != nil {
		p, allowed = t.net.newPair(t, dst)
	}
	if !allowed {
		wait := cutDialWait
		if timeout > 0 && timeout < wait {
			wait = timeout
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
			return nil, t.dialErr(a.Addr, os.ErrDeadlineExceeded)
		case <-t.done:
			return nil, t.dialErr(a.Addr, ErrShutdown)
		}
	}
	if dst == nil {
		return nil, t.dialErr(a.Addr, syscall.ECONNREFUSED)
	}

	var timeoutCh <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		timeoutCh = timer.C
	}
	select {
	case dst.streamCh <- p.listenerEnd:
		return p.dialerEnd, nil
	case <-dst.done:
		p.closeAndForget()
		return nil, t.dialErr(a.Addr, syscall.ECONNREFUSED)
	case <-t.done:
		p.closeAndForget()
		return nil, t.dialErr(a.Addr, ErrShutdown)
	case <-timeoutCh:
		p.closeAndForget()
		return nil, t.dialErr(a.Addr, os.ErrDeadlineExceeded)
	}
}

func (t *transport) dialErr(addr string, err error) error {
	remote, _ := net.ResolveTCPAddr("tcp", addr)
	return &net.OpError{Op: "dial", Net: "tcp", Source: t.tcpAddr(), Addr: remote, Err: err}
}

func (t *transport) tcpAddr() *net.TCPAddr { return &net.TCPAddr{IP: t.ip, Port: t.port} }

// Shutdown stops the transport as if its process died: its address becomes
// free, packets to it vanish, dials to it are refused and its open streams
// close.
func (t *transport) Shutdown() error {
	t.shutOnce.Do(func() {
		close(t.done)
		t.net.mu.Lock()
		defer t.net.mu.Unlock()
		if t.net.transports[t.addr] == t {
			delete(t.net.transports, t.addr)
		}
		t.net.closeStreamsOfLocked(t.addr)
	})
	return nil
}
