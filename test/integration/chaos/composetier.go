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
	"time"
)

// composeTier runs docker-compose.cluster.yml through scripts/compose.sh
// (the documented way up, so the suite proves it works) under a project
// name of its own, and hurts containers with docker kill, docker pause and
// docker network disconnect. Cut needs a rule inside one container's
// network namespace only, which nsenter reaches from the host.
type composeTier struct {
	root    string
	dir     string // where container logs are saved before the project goes
	project string
	subnet  string
	secrets Secrets
	broken  bool

	mu           sync.Mutex
	started      map[string]bool
	expectedDown map[string]bool
	disconnected map[string]bool
	network      string
}

func newComposeTier(root, dir, subnet string, secrets Secrets, broken bool) *composeTier {
	return &composeTier{root: root, dir: dir, project: "sgchaos", subnet: subnet, secrets: secrets, broken: broken,
		started: map[string]bool{}, expectedDown: map[string]bool{}, disconnected: map[string]bool{}}
}

func (t *composeTier) Name() string      { return "compose" }
func (t *composeTier) Initial() []string { return []string{"n1", "n2", "n3"} }
func (t *composeTier) Spare() string     { return "n4" }

func (t *composeTier) ip(name string) string {
	return fmt.Sprintf("%s.%s", t.subnet, map[string]string{"n1": "11", "n2": "12", "n3": "13", "n4": "14"}[name])
}
func (t *composeTier) AdminURL(name string) string { return "http://" + t.ip(name) + ":9090" }
func (t *composeTier) WSURL(name string) string    { return "ws://" + t.ip(name) + ":8080/v1/ws" }

// script runs scripts/compose.sh with the run's secrets and switches.
func (t *composeTier) script(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(t.root, "scripts", "compose.sh"), args...)
	cmd.Dir = t.root
	fast, broken := "1", "0"
	if t.broken {
		broken = "1"
	}
	cmd.Env = append(os.Environ(),
		"SHARDGATE_PROJECT="+t.project, "SHARDGATE_NET="+t.subnet, "SHARDGATE_IMAGE_TAG=chaos",
		"SHARDGATE_AUTH_SECRET="+t.secrets.AuthSecret, "SHARDGATE_ADMIN_TOKEN="+t.secrets.AdminToken,
		"SHARDGATE_CLUSTER_KEY="+t.secrets.ClusterKey,
		"SHARDGATE_FAST="+fast, "SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE="+broken,
		// The disk-full fault's node keeps /data on a small filesystem of
		// the host's, bind-mounted (see smallfs.go).
		"SHARDGATE_"+strings.ToUpper(smallFSNode)+"_DATA="+t.smallFSDir(),
		"SHARDGATE_BUILD_TAGS="+map[bool]string{true: "chaos"}[t.broken], // the broken mode exists only in chaos builds
		// Empty: Docker picks free loopback ports, so a run never collides
		// with a cluster someone else has up.
		"SHARDGATE_N1_ADMIN_PORT=", "SHARDGATE_N2_ADMIN_PORT=", "SHARDGATE_N3_ADMIN_PORT=", "SHARDGATE_N4_ADMIN_PORT=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return string(b), fmt.Errorf("scripts/compose.sh %s: %w\n%s", strings.Join(args, " "), err, tail(string(b), 30))
	}
	return string(b), nil
}

// Setup removes what an interrupted earlier run of this project left, then
// builds and starts n1..n3 (the script waits for Docker's health checks).
func (t *composeTier) Setup(ctx context.Context) error {
	t.script(ctx, "down", "-t", "1")
	if err := t.checkSubnetFree(ctx); err != nil {
		return err
	}
	// The image runs the node as nobody (65534).
	if err := mountSmallFS(ctx, t.smallFSDir(), 65534, 65534); err != nil {
		return err
	}
	if _, err := t.script(ctx, "up"); err != nil {
		return err
	}
	for _, n := range t.Initial() {
		t.started[n] = true
	}
	id, err := t.id(ctx, "n1")
	if err != nil {
		return err
	}
	out, err := run(ctx, "docker", "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", id)
	if err != nil {
		return err
	}
	t.network = strings.TrimSpace(out)
	if t.network == "" || strings.Contains(t.network, " ") {
		return fmt.Errorf("n1 should be on exactly one network, found %q", t.network)
	}
	return nil
}

// checkSubnetFree refuses a subnet another Docker network or route uses.
func (t *composeTier) checkSubnetFree(ctx context.Context) error {
	out, err := run(ctx, "ip", "-4", "route", "show")
	if err != nil {
		return err
	}
	if strings.Contains(out, t.subnet+".") {
		return fmt.Errorf("subnet %s.0/24 is already in use on this machine (ip route: %s); pick another with -subnet", t.subnet, strings.TrimSpace(out))
	}
	return nil
}

// id finds a service's container: names differ between compose versions,
// `ps -q SERVICE` does not.
func (t *composeTier) id(ctx context.Context, name string) (string, error) {
	out, err := t.script(ctx, "ps", "-q", name)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(out)
	if i := strings.LastIndexByte(id, '\n'); i >= 0 {
		id = id[i+1:] // compose v1 may print warnings before the id
	}
	if id == "" {
		return "", fmt.Errorf("service %s has no container", name)
	}
	return id, nil
}

func (t *composeTier) docker(ctx context.Context, name string, args ...string) error {
	id, err := t.id(ctx, name)
	if err != nil {
		return err
	}
	_, err = run(ctx, "docker", append(args, id)...)
	return err
}

// inspect reads one field of a node's container state.
func (t *composeTier) inspect(ctx context.Context, name, format string) (string, error) {
	id, err := t.id(ctx, name)
	if err != nil {
		return "", err
	}
	out, err := run(ctx, "docker", "inspect", "-f", format, id)
	return strings.TrimSpace(out), err
}

func (t *composeTier) Start(ctx context.Context, name string) error {
	t.mu.Lock()
	first := !t.started[name]
	t.started[name] = true
	t.expectedDown[name] = false
	t.mu.Unlock()
	if first {
		if name != t.Spare() {
			return fmt.Errorf("%s was never created", name)
		}
		_, err := t.script(ctx, "join") // creates n4 (a profile service) and waits for health
		return err
	}
	return t.docker(ctx, name, "start")
}

func (t *composeTier) markDown(name string) {
	t.mu.Lock()
	t.expectedDown[name] = true
	t.mu.Unlock()
}

func (t *composeTier) Stop(ctx context.Context, name string) error {
	t.markDown(name)
	t.docker(ctx, name, "unpause") // a frozen node cannot act on SIGTERM; an error means it was not paused
	return t.docker(ctx, name, "stop", "-t", "60")
}

// Kill is docker kill (SIGKILL), then a check that the container is down.
func (t *composeTier) Kill(ctx context.Context, name string) error {
	t.markDown(name)
	if err := t.docker(ctx, name, "kill", "-s", "KILL"); err != nil {
		return err
	}
	for i := 0; i < 50; i++ {
		if s, _ := t.inspect(ctx, name, "{{.State.Running}}"); s == "false" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("docker kill %s: the container still runs", name)
}

// Pause is docker pause (the cgroup freezer), checked in the state.
func (t *composeTier) Pause(ctx context.Context, name string) error {
	if err := t.docker(ctx, name, "pause"); err != nil {
		return err
	}
	if s, err := t.inspect(ctx, name, "{{.State.Paused}}"); err != nil || s != "true" {
		return fmt.Errorf("docker pause %s: the container is not paused (%q, %v)", name, s, err)
	}
	return nil
}

func (t *composeTier) Resume(ctx context.Context, name string) error {
	return t.docker(ctx, name, "unpause")
}

// Cut adds a drop rule in to's network namespace, entered from the host.
func (t *composeTier) Cut(ctx context.Context, from, to string) error {
	pid, err := t.inspect(ctx, to, "{{.State.Pid}}")
	if err != nil {
		return err
	}
	enter := []string{"nsenter", "-t", pid, "-n"}
	if err := nftInit(ctx, enter); err != nil && !strings.Contains(err.Error(), "exists") {
		return err
	}
	return nftDropFrom(ctx, enter, t.ip(from))
}

// Isolate is docker network disconnect: the container loses its only
// network, so peers and the host lose it alike.
func (t *composeTier) Isolate(ctx context.Context, name string) error {
	if err := t.docker(ctx, name, "network", "disconnect", "-f", t.network); err != nil {
		return err
	}
	t.mu.Lock()
	t.disconnected[name] = true
	t.mu.Unlock()
	return nil
}

// Heal reconnects disconnected containers at their static address and
// removes drop rules from every running container.
func (t *composeTier) Heal(ctx context.Context) error {
	var errs []error
	t.mu.Lock()
	var disc, up []string
	for n := range t.disconnected {
		disc = append(disc, n)
	}
	t.disconnected = map[string]bool{}
	for n, s := range t.started {
		if s && !t.expectedDown[n] {
			up = append(up, n)
		}
	}
	t.mu.Unlock()
	for _, n := range disc {
		errs = append(errs, t.docker(ctx, n, "network", "connect", "--ip", t.ip(n), "--alias", n, t.network))
	}
	for _, n := range up {
		pid, err := t.inspect(ctx, n, "{{.State.Pid}}")
		if err != nil || pid == "0" {
			continue
		}
		enter := []string{"nsenter", "-t", pid, "-n"}
		if err := nftFlush(ctx, enter); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *composeTier) Release(name string) { t.markDown(name) }

// Exited reports containers that stopped while the suite expected them up.
func (t *composeTier) Exited() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.mu.Lock()
	var up []string
	for n, s := range t.started {
		if s && !t.expectedDown[n] {
			up = append(up, n)
		}
	}
	t.mu.Unlock()
	var out []string
	for _, n := range up {
		if s, err := t.inspect(ctx, n, "{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}"); err == nil && !strings.HasPrefix(s, "running") && !strings.HasPrefix(s, "paused") {
			out = append(out, fmt.Sprintf("%s stopped on its own: %s", n, s))
		}
	}
	return out
}

func (t *composeTier) LogTail(name string, lines int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := t.id(ctx, name)
	if err != nil {
		return ""
	}
	out, _ := run(ctx, "docker", "logs", "--tail", fmt.Sprint(lines), id)
	return out
}

// Close saves each container's log into the run directory, then removes
// the containers, the network and the volumes of the project.
func (t *composeTier) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t.mu.Lock()
	var names []string
	for n := range t.started {
		names = append(names, n)
	}
	t.mu.Unlock()
	for _, n := range names {
		if id, err := t.id(ctx, n); err == nil {
			out, _ := run(ctx, "docker", "logs", id)
			os.WriteFile(filepath.Join(t.dir, n+".log"), []byte(out), 0o644)
		}
	}
	_, err := t.script(ctx, "down", "-t", "2")
	return errors.Join(err, unmountSmallFS(ctx, t.smallFSDir()))
}

// smallFSDir is the host directory the small filesystem is mounted on.
func (t *composeTier) smallFSDir() string { return filepath.Join(t.dir, smallFSNode+"-data") }

func (t *composeTier) SmallFSNode() string { return smallFSNode }

func (t *composeTier) FillDisk(ctx context.Context) (int64, error) { return fillFS(t.smallFSDir()) }

func (t *composeTier) FreeDisk(ctx context.Context) error { return freeFS(t.smallFSDir()) }
