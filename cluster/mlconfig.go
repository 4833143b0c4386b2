package cluster

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/memberlist"
)

// memberlistConfig maps our Config onto memberlist's, starting from its LAN
// defaults for everything we do not set.
func (c *Cluster) memberlistConfig() *memberlist.Config {
	cfg := c.cfg
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	host, port, _ := net.SplitHostPort(cfg.BindAddr) // checked by Validate
	mc.BindAddr = host
	mc.BindPort, _ = strconv.Atoi(port)
	mc.AdvertisePort = mc.BindPort
	if cfg.AdvertiseAddr != "" {
		host, port, _ := net.SplitHostPort(cfg.AdvertiseAddr)
		mc.AdvertiseAddr = host
		mc.AdvertisePort, _ = strconv.Atoi(port)
	}
	if cfg.Transport != nil {
		mc.Transport = cfg.Transport
	}
	if len(cfg.SecretKey) > 0 {
		mc.SecretKey = cfg.SecretKey
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.Label = cfg.Label
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.GossipInterval = cfg.GossipInterval
	mc.PushPullInterval = cfg.PushPullInterval
	mc.SuspicionMult = cfg.SuspicionMult
	mc.SuspicionMaxTimeoutMult = cfg.SuspicionMaxTimeoutMult
	mc.GossipToTheDeadTime = cfg.GossipToTheDeadTime
	mc.TCPTimeout = cfg.TCPTimeout
	// Gossip leaves uncompressed. memberlist's LZW allocates a fresh
	// 64 KiB table for every packet it compresses: compressing and
	// collecting those tables were about a fifth of an idle 12-node
	// cluster's CPU. Gossip packets are filled to the datagram size before
	// compression, so it saves no packet. Compressed messages from nodes
	// that still compress are read as before.
	mc.EnableCompression = false
	// A node that restarts under its name at a new address (a rescheduled
	// container) is let in once its old address has been dead this long.
	// Without it memberlist refuses the new address for as long as it
	// remembers the old one.
	mc.DeadNodeReclaimTime = cfg.RejoinInterval
	h := hooks{c}
	mc.Delegate, mc.Events, mc.Alive, mc.Merge, mc.Conflict = h, h, h, h, h
	mc.Logger = log.New(c.mlLog, "", 0)
	return mc
}

// checkBindable tries the address before memberlist does, because
// memberlist flattens the bind error into a string and callers deserve
// errors.Is(err, syscall.EADDRINUSE) and a one-line message.
func checkBindable(addr string) error {
	fail := func(err error) error {
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return fmt.Errorf("cluster: listen on %s: %w", addr, err)
	}
	if strings.HasSuffix(addr, ":0") {
		return nil // memberlist picks a port that is free for both protocols
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(err)
	}
	_ = l.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fail(err)
	}
	_ = pc.Close()
	return nil
}
