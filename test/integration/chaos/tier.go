package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tier is one way of running real shardgate nodes and hurting them. The
// suite only speaks to nodes through this interface and over the network,
// so the same fault plan runs against bare processes and containers.
//
// Every method is bounded in time by ctx and reports a fault that did not
// take effect as an error: a fault that silently failed to fire would make
// a green run meaningless.
type Tier interface {
	// Name is "process" or "compose".
	Name() string
	// Setup prepares the network and starts the initial nodes; it returns
	// once their processes run (readiness is the suite's business).
	Setup(ctx context.Context) error
	// Initial are the nodes Setup starts; Spare joins later.
	Initial() []string
	Spare() string
	// AdminURL and WSURL are the node's listeners as the host reaches them.
	AdminURL(name string) string
	WSURL(name string) string
	// Start starts a node that is not running (first start or restart with
	// its data kept).
	Start(ctx context.Context, name string) error
	// Stop is a graceful stop (SIGTERM) that waits for the exit.
	Stop(ctx context.Context, name string) error
	// Kill is SIGKILL: no chance to hand anything off.
	Kill(ctx context.Context, name string) error
	// Pause freezes every thread of the node (SIGSTOP or the cgroup
	// freezer); Resume thaws it.
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	// Cut drops every packet from one node to another, in that direction
	// only; the host keeps reaching both.
	Cut(ctx context.Context, from, to string) error
	// Isolate takes the node off the cluster network the tier's own way
	// (process tier: drop rules both ways; compose: docker network
	// disconnect, which also cuts it from the host).
	Isolate(ctx context.Context, name string) error
	// Heal removes every Cut and Isolate.
	Heal(ctx context.Context) error
	// SmallFSNode is the node whose data directory is on a small
	// filesystem of its own (see smallfs.go). FillDisk fills that
	// filesystem until nothing is left and returns the bytes it took;
	// FreeDisk gives them back.
	SmallFSNode() string
	FillDisk(ctx context.Context) (int64, error)
	FreeDisk(ctx context.Context) error
	// Release says the node may now exit on its own (it is being drained
	// and will leave): its exit is no longer a failure.
	Release(name string)
	// Exited returns, for each node whose process ended without the tier
	// being asked to stop or kill it, a line saying how it ended.
	Exited() []string
	// LogTail returns the last lines a node wrote, for failure reports.
	LogTail(name string, lines int) string
	// Close stops every node and removes everything Setup created. It is
	// idempotent and runs on every exit path.
	Close() error
}

// Secrets are generated per run: the nodes listen on non-loopback
// addresses, so they refuse to start without all three.
type Secrets struct {
	AuthSecret string
	AdminToken string
	ClusterKey string // base64 of 32 bytes
}

func newSecrets() Secrets {
	b := make([]byte, 32+16+32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return Secrets{
		AuthSecret: hex.EncodeToString(b[:32]),
		AdminToken: hex.EncodeToString(b[32:48]),
		ClusterKey: base64.StdEncoding.EncodeToString(b[48:]),
	}
}

// repoRoot finds the module root by walking up from the working directory,
// so the suite runs from anywhere inside the repository.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/shardgate/shardgate\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the shardgate repository (no go.mod of github.com/shardgate/shardgate above %s)", dir)
		}
		dir = parent
	}
}

// buildBinary compiles the static node binary the way the image needs it
// (CGO off, so it runs FROM scratch) into root/build/shardgate. One build
// serves both tiers. A broken run needs the chaos build tag: only such a
// binary has --unsafe-ack-before-replicate.
func buildBinary(ctx context.Context, root string, broken bool) (string, error) {
	out := filepath.Join(root, "build", "shardgate")
	if err := os.MkdirAll(filepath.Join(root, "build", "rootfs", "data"), 0o755); err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath"}
	if broken {
		args = append(args, "-tags", "chaos")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", out, "./cmd/node")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/node: %w\n%s", err, b)
	}
	// The image runs the binary as nobody and COPY keeps its mode.
	return out, os.Chmod(out, 0o755)
}

// run executes a helper command (ip, nft, docker) and returns its output;
// a failure carries the command line and what it printed.
func run(ctx context.Context, name string, args ...string) (string, error) {
	return runIn(ctx, "", name, args...)
}

// runIn is run with standard input.
func runIn(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	b, err := cmd.CombinedOutput()
	if err != nil {
		return string(b), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
