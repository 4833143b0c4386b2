package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// preflight checks everything the tier needs before touching anything, so
// that a machine without root or Docker gets one clear sentence and a
// non-zero exit instead of a half-built network or a silent skip.
func preflight(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	need := func(prog, why string) {
		if _, err := exec.LookPath(prog); err != nil {
			errs = append(errs, fmt.Errorf("%s is not installed (%s)", prog, why))
		}
	}
	if o.bin == "" {
		need("go", "to build the node binary; or pass -bin")
	} else if _, err := os.Stat(o.bin); err != nil {
		errs = append(errs, fmt.Errorf("-bin %s: %w", o.bin, err))
	}
	switch o.tier {
	case "process":
		if os.Geteuid() != 0 {
			errs = append(errs, errors.New("it needs root to create network namespaces and nftables rules (run it as root, e.g. sudo -E go run ./test/integration/chaos -tier process)"))
		}
		need("ip", "iproute2: network namespaces and veth links")
		need("nft", "nftables: partitions are drop rules")
		if len(errs) == 0 {
			if _, err := run(ctx, "nft", "list", "tables"); err != nil {
				errs = append(errs, fmt.Errorf("nftables does not work here: %w", err))
			}
		}
	case "compose":
		need("docker", "the compose tier runs containers")
		if len(errs) == 0 {
			if _, err := run(ctx, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
				errs = append(errs, fmt.Errorf("the Docker daemon does not answer: %w", err))
			}
			_, v2 := run(ctx, "docker", "compose", "version")
			_, v1 := exec.LookPath("docker-compose")
			if v2 != nil && v1 != nil {
				errs = append(errs, errors.New("neither `docker compose` nor `docker-compose` is installed"))
			}
		}
		if os.Geteuid() != 0 {
			errs = append(errs, errors.New("it needs root to enter container network namespaces (nsenter) for one-way partitions"))
		}
		need("nsenter", "util-linux: partition rules inside a container's namespace")
		need("nft", "nftables: partitions are drop rules")
	}
	return errors.Join(errs...)
}

// lockTier keeps two runs of the same tier from fighting over one set of
// namespace names or one compose project.
func lockTier(tier string) (func(), error) {
	path := filepath.Join(os.TempDir(), "shardgate-chaos-"+tier+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another %s-tier chaos run holds %s", tier, path)
	}
	return func() { f.Close() }, nil
}
