package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// One node of each tier keeps its data directory on a small filesystem of
// its own (tmpfs with size=), so that the disk-full fault fills a real
// filesystem: the node's own writes get ENOSPC from the kernel, nothing is
// simulated. The filesystem is mounted on the host before the node first
// starts and outlives restarts of the node (and, in the compose tier, of
// its container, which bind-mounts it as /data).

// smallFSNode is the node whose data directory is on the small filesystem:
// a member through the faults before the disk-full fault (n1 is the node
// the plan drains, the top owner is killed for good near the end).
const smallFSNode = "n3"

// smallFSSize is the size of that filesystem: far more than a run writes
// (a full process-tier run leaves about 30 MiB per node), small enough to
// fill in a moment.
const smallFSSize = "512m"

// fillerName is the file that takes up the free space while the fault holds.
const fillerName = "chaos-disk-filler"

// mountSmallFS mounts a tmpfs of smallFSSize on dir (created if needed),
// owned by uid:gid so a node running as that user can write to it.
func mountSmallFS(ctx context.Context, dir string, uid, gid int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unmountSmallFS(ctx, dir) // a leftover of an interrupted run
	if _, err := run(ctx, "mount", "-t", "tmpfs", "-o", "size="+smallFSSize+",mode=0755", "tmpfs", dir); err != nil {
		return fmt.Errorf("small filesystem for the disk-full fault: %w", err)
	}
	return os.Chown(dir, uid, gid)
}

// unmountSmallFS unmounts dir if it is a mount point; lazily, so a process
// that still holds it open does not stop the cleanup.
func unmountSmallFS(ctx context.Context, dir string) error {
	if !isMountPoint(dir) {
		return nil
	}
	_, err := run(ctx, "umount", "-l", dir)
	return err
}

// isMountPoint says whether dir is listed in /proc/self/mounts.
func isMountPoint(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	abs, _ := filepath.Abs(dir)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == abs {
			return true
		}
	}
	return false
}

// fillFS writes zeros into dir/fillerName until the filesystem has no
// room left, then checks that it is really full. It returns the bytes
// written.
func fillFS(dir string) (int64, error) {
	if !isMountPoint(dir) {
		return 0, fmt.Errorf("%s is not a mount point of its own: filling it would fill the host's disk", dir)
	}
	f, err := os.OpenFile(filepath.Join(dir, fillerName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for i := 0; i < 1<<16; i++ { // bounded: 64 GiB would be far beyond any small filesystem
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("filling %s: %w", dir, err)
		}
	}
	// Whatever a 1 MiB write could not take, smaller ones do.
	for _, size := range []int{64 << 10, 4 << 10, 512} {
		for {
			w, err := f.Write(buf[:size])
			n += int64(w)
			if err != nil {
				break
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return n, err
	}
	if free := st.Bavail * uint64(st.Bsize); free > 64<<10 {
		return n, fmt.Errorf("%s still has %d bytes free after filling", dir, free)
	}
	return n, nil
}

// freeFS removes the filler.
func freeFS(dir string) error {
	err := os.Remove(filepath.Join(dir, fillerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
