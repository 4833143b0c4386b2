package main

import (
	"context"
	"fmt"
	"strings"
)

// The process tier gives every node its own network namespace so that a
// partition is a real packet drop on a real interface, and so that nodes
// can use the same ports on different addresses:
//
//	root ns: sgch-host 10.x.y.1 ──┐
//	                              │ veth
//	sgchaos-hub: br0 ─┬─ up0 ─────┘
//	                  ├─ p1 ── veth ── sgchaos-n1: eth0 10.x.y.11
//	                  ├─ p2 ── veth ── sgchaos-n2: eth0 10.x.y.12
//	                  └─ …
//
// The bridge lives in a namespace of its own, not in the root one: there
// Docker's FORWARD policy (DROP) would see bridged packets whenever
// br_netfilter is loaded. Traffic from the suite to the nodes leaves the
// root namespace as local output through sgch-host, which no rule of
// anyone else's touches.
const (
	nsPrefix = "sgchaos-"
	hubNS    = nsPrefix + "hub"
	hostLink = "sgch-host"
	nftTable = "sgchaos"
)

// netns is the set of namespaces of one process-tier run.
type netns struct {
	prefix string // first three octets, e.g. "10.213.77"
	nodes  []string
}

func (n *netns) nodeNS(name string) string { return nsPrefix + name }

// ip returns the address of a node: .11 for n1, .12 for n2, …
func (n *netns) ip(name string) string {
	for i, m := range n.nodes {
		if m == name {
			return fmt.Sprintf("%s.%d", n.prefix, 11+i)
		}
	}
	panic("unknown node " + name)
}

// checkFree refuses a subnet that is already routed here: taking it over
// would break someone else's network.
func (n *netns) checkFree(ctx context.Context) error {
	out, err := run(ctx, "ip", "-4", "route", "show")
	if err != nil {
		return err
	}
	if strings.Contains(out, n.prefix+".") {
		return fmt.Errorf("subnet %s.0/24 is already routed on this machine (ip route: %s); pick another with -subnet", n.prefix, strings.TrimSpace(out))
	}
	return nil
}

// cleanStale removes namespaces and links left by an earlier run of this
// suite that died before its own cleanup (every name carries our prefix).
func cleanStale(ctx context.Context) {
	out, _ := run(ctx, "ip", "netns", "list")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], nsPrefix) {
			run(ctx, "ip", "netns", "del", f[0])
		}
	}
	if _, err := run(ctx, "ip", "link", "show", hostLink); err == nil {
		run(ctx, "ip", "link", "del", hostLink)
	}
}

// setup builds the hub, the host link and one namespace per node, each
// with an empty nftables table the faults add drop rules to.
func (n *netns) setup(ctx context.Context) error {
	cleanStale(ctx)
	if err := n.checkFree(ctx); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "netns", "add", hubNS},
		{"ip", "-n", hubNS, "link", "set", "lo", "up"},
		{"ip", "-n", hubNS, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", hubNS, "link", "set", "br0", "up"},
		{"ip", "link", "add", hostLink, "type", "veth", "peer", "name", "up0", "netns", hubNS},
		{"ip", "-n", hubNS, "link", "set", "up0", "master", "br0", "up"},
		{"ip", "addr", "add", n.prefix + ".1/24", "dev", hostLink},
		{"ip", "link", "set", hostLink, "up"},
	}
	for i, name := range n.nodes {
		ns, port := n.nodeNS(name), fmt.Sprintf("p%d", i+1)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", hubNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "-n", hubNS, "link", "set", port, "master", "br0", "up"},
			[]string{"ip", "-n", ns, "addr", "add", n.ip(name) + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
		)
	}
	for _, s := range steps {
		if _, err := run(ctx, s[0], s[1:]...); err != nil {
			return fmt.Errorf("network setup: %w", err)
		}
	}
	for _, name := range n.nodes {
		if err := nftInit(ctx, n.enter(name)); err != nil {
			return err
		}
	}
	return nil
}

// enter is the command prefix that runs a program in a node's namespace.
func (n *netns) enter(name string) []string {
	return []string{"ip", "netns", "exec", n.nodeNS(name)}
}

// teardown deletes every namespace; deleting a namespace deletes the veth
// ends inside it and with them their peers.
func (n *netns) teardown(ctx context.Context) error {
	var errs []string
	for _, name := range n.nodes {
		if _, err := run(ctx, "ip", "netns", "del", n.nodeNS(name)); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err.Error())
		}
	}
	if _, err := run(ctx, "ip", "netns", "del", hubNS); err != nil && !strings.Contains(err.Error(), "No such file") {
		errs = append(errs, err.Error())
	}
	if _, err := run(ctx, "ip", "link", "show", hostLink); err == nil {
		run(ctx, "ip", "link", "del", hostLink)
	}
	if len(errs) > 0 {
		return fmt.Errorf("network teardown: %s", strings.Join(errs, "; "))
	}
	return nil
}

// nftInit creates the table faults write into. Its input hook runs before
// anything else so a drop is final.
func nftInit(ctx context.Context, enter []string) error {
	script := fmt.Sprintf(`table inet %[1]s
delete table inet %[1]s
table inet %[1]s {
	chain input { type filter hook input priority -200; policy accept; }
}
`, nftTable)
	if _, err := runNS(ctx, script, enter, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// nftDropFrom makes the namespace entered by enter drop every packet from
// ip, then checks that the rule is really there.
func nftDropFrom(ctx context.Context, enter []string, ip string) error {
	if _, err := runNS(ctx, "", enter, "nft", "add", "rule", "inet", nftTable, "input", "ip", "saddr", ip, "drop"); err != nil {
		return err
	}
	out, err := runNS(ctx, "", enter, "nft", "list", "chain", "inet", nftTable, "input")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "ip saddr "+ip+" drop") {
		return fmt.Errorf("drop rule for %s is not in place: %s", ip, out)
	}
	return nil
}

// nftFlush removes every drop rule of the namespace.
func nftFlush(ctx context.Context, enter []string) error {
	_, err := runNS(ctx, "", enter, "nft", "flush", "chain", "inet", nftTable, "input")
	return err
}

// runNS runs cmd inside the namespace that enter (a command prefix such as
// ip netns exec NS, or nsenter -t PID -n) leads into.
func runNS(ctx context.Context, stdin string, enter []string, cmd ...string) (string, error) {
	args := make([]string, 0, len(enter)-1+len(cmd))
	args = append(args, enter[1:]...)
	return runIn(ctx, stdin, enter[0], append(args, cmd...)...)
}
