package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procTier runs each node as a real `shardgate run` process inside its own
// network namespace (see netns.go). Faults are signals and nftables rules:
// nothing is simulated.
type procTier struct {
	bin     string
	dir     string // data dirs and logs
	secrets Secrets
	broken  bool
	net     netns

	mu       sync.Mutex
	procs    map[string]*proc
	exited   []string
	isolated map[string]bool
}

// proc is one run of a node process.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the suite stopped or killed it on purpose
	state    string
}

func newProcTier(bin, dir, subnet string, secrets Secrets, broken bool) *procTier {
	return &procTier{bin: bin, dir: dir, secrets: secrets, broken: broken,
		net:   netns{prefix: subnet, nodes: []string{"n1", "n2", "n3", "n4"}},
		procs: map[string]*proc{}, isolated: map[string]bool{}}
}

func (t *procTier) Name() string      { return "process" }
func (t *procTier) Initial() []string { return []string{"n1", "n2", "n3"} }
func (t *procTier) Spare() string     { return "n4" }
func (t *procTier) AdminURL(name string) string {
	return "http://" + t.net.ip(name) + ":9090"
}
func (t *procTier) WSURL(name string) string {
	return "ws://" + t.net.ip(name) + ":8080/v1/ws"
}

func (t *procTier) Setup(ctx context.Context) error {
	if err := t.net.setup(ctx); err != nil {
		return err
	}
	if err := mountSmallFS(ctx, filepath.Join(t.dir, smallFSNode), 0, 0); err != nil {
		return err
	}
	for _, n := range t.Initial() {
		if err := t.Start(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// args are the flags of docs/configuration.md, with every secret set: the listeners are
// on namespace addresses, not loopback.
func (t *procTier) args(name string) []string {
	var join []string
	for _, n := range t.Initial() {
		join = append(join, t.net.ip(n)+":7946")
	}
	ip := t.net.ip(name)
	a := []string{"run", "--name", name, "--data-dir", filepath.Join(t.dir, name),
		"--gossip-addr", ip + ":7946", "--ws-addr", ip + ":8080", "--admin-addr", ip + ":9090",
		"--join", strings.Join(join, ","),
		"--auth-secret", t.secrets.AuthSecret, "--admin-token", t.secrets.AdminToken,
		"--cluster-key", t.secrets.ClusterKey, "--fast-failure-detection"}
	if t.broken {
		a = append(a, "--unsafe-ack-before-replicate")
	}
	return a
}

func (t *procTier) Start(ctx context.Context, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[name]; p != nil && !isDone(p.done) {
		return fmt.Errorf("start %s: it is already running", name)
	}
	logf, err := os.OpenFile(t.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "--- chaos: start %s at %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command("ip", append([]string{"netns", "exec", t.net.nodeNS(name), t.bin}, t.args(name)...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// ip netns exec replaces itself with the node, so the pid is the node's.
	// Pdeathsig takes the node down with the suite if the suite itself is
	// killed before it can clean up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), state: "running"}
	t.procs[name] = p
	go func() {
		err := cmd.Wait()
		logf.Close()
		t.mu.Lock()
		defer t.mu.Unlock()
		if !p.expected {
			t.exited = append(t.exited, fmt.Sprintf("%s exited on its own at %s: %v", name, time.Now().Format("15:04:05.000"), exitText(err)))
		}
		close(p.done)
	}()
	return nil
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (t *procTier) logPath(name string) string { return filepath.Join(t.dir, name+".log") }

// running returns the live process of name.
func (t *procTier) running(name string) (*proc, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[name]
	if p == nil || isDone(p.done) {
		return nil, fmt.Errorf("%s is not running", name)
	}
	return p, nil
}

// signalAndWait sends sig (after marking the exit as intended) and waits
// for the process to end.
func (t *procTier) signalAndWait(ctx context.Context, name string, sig syscall.Signal, wait time.Duration) error {
	p, err := t.running(name)
	if err != nil {
		return err
	}
	t.mu.Lock()
	p.expected = true
	t.mu.Unlock()
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			// A drained node leaves and exits by itself, and may do so
			// before it is told to stop: it has ended, as asked.
			<-p.done
			return nil
		}
		return fmt.Errorf("%s %s: %w", sig, name, err)
	}
	if sig == syscall.SIGTERM {
		p.cmd.Process.Signal(syscall.SIGCONT) // a paused node cannot act on SIGTERM
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(wait):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of %s; killed", name, wait, sig)
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
		return ctx.Err()
	}
}

func (t *procTier) Stop(ctx context.Context, name string) error {
	return t.signalAndWait(ctx, name, syscall.SIGTERM, 60*time.Second)
}

func (t *procTier) Kill(ctx context.Context, name string) error {
	if err := t.signalAndWait(ctx, name, syscall.SIGKILL, 10*time.Second); err != nil {
		return err
	}
	t.mu.Lock()
	p := t.procs[name]
	t.mu.Unlock()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("kill -9 %s: it ended with %s, not SIGKILL", name, p.cmd.ProcessState)
	}
	return nil
}

// Pause stops the process and checks the kernel reports it stopped.
func (t *procTier) Pause(ctx context.Context, name string) error {
	p, err := t.running(name)
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	for i := 0; i < 50; i++ {
		if procState(p.cmd.Process.Pid) == "T" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("SIGSTOP %s: the process is in state %q, not stopped", name, procState(p.cmd.Process.Pid))
}

func (t *procTier) Resume(ctx context.Context, name string) error {
	p, err := t.running(name)
	if err != nil {
		return err
	}
	return p.cmd.Process.Signal(syscall.SIGCONT)
}

// procState is the one-letter state of /proc/PID/stat (R, S, T, …).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "?"
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// Cut makes to's namespace drop every packet from from.
func (t *procTier) Cut(ctx context.Context, from, to string) error {
	return nftDropFrom(ctx, t.net.enter(to), t.net.ip(from))
}

// Isolate cuts name from every other node, both ways; the host still
// reaches it, so its clients can find out whether it refuses writes.
func (t *procTier) Isolate(ctx context.Context, name string) error {
	for _, other := range t.net.nodes {
		if other == name {
			continue
		}
		if err := t.Cut(ctx, name, other); err != nil {
			return err
		}
		if err := t.Cut(ctx, other, name); err != nil {
			return err
		}
	}
	return nil
}

func (t *procTier) Heal(ctx context.Context) error {
	var errs []error
	for _, n := range t.net.nodes {
		if err := nftFlush(ctx, t.net.enter(n)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *procTier) Release(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[name]; p != nil {
		p.expected = true
	}
}

func (t *procTier) Exited() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.exited...)
}

func (t *procTier) LogTail(name string, lines int) string {
	b, err := os.ReadFile(t.logPath(name))
	if err != nil {
		return ""
	}
	return tail(string(b), lines)
}

// Close kills what still runs (the run is over, a graceful stop would only
// cost time) and removes the namespaces.
func (t *procTier) Close() error {
	t.mu.Lock()
	var live []*proc
	for _, p := range t.procs {
		if !isDone(p.done) {
			p.expected = true
			live = append(live, p)
		}
	}
	t.mu.Unlock()
	for _, p := range live {
		p.cmd.Process.Kill()
		<-p.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(unmountSmallFS(ctx, filepath.Join(t.dir, smallFSNode)), t.net.teardown(ctx))
}

func (t *procTier) SmallFSNode() string { return smallFSNode }

func (t *procTier) FillDisk(ctx context.Context) (int64, error) {
	return fillFS(filepath.Join(t.dir, smallFSNode))
}

func (t *procTier) FreeDisk(ctx context.Context) error {
	return freeFS(filepath.Join(t.dir, smallFSNode))
}
