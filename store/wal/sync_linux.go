package wal

import (
	"os"
	"syscall"
)

// datasync flushes the file's data and the metadata needed to read it back
// (its size), not its timestamps: cheaper than fsync for appends.
func datasync(f *os.File) error {
	var err error
	for range 100 { // a signal may interrupt the call; it is retried, not looped on forever
		if err = syscall.Fdatasync(int(f.Fd())); err != syscall.EINTR {
			break
		}
	}
	return err
}

// preallocate allocates n bytes of f from off on, zeros, and extends its
// size over them.
func preallocate(f *os.File, off, n int64) error {
	var err error
	for range 100 {
		if err = syscall.Fallocate(int(f.Fd()), 0, off, n); err != syscall.EINTR {
			break
		}
	}
	return err
}

// freeBytes is the space left to unprivileged users on f's file system; 0
// when it cannot be read.
func freeBytes(f *os.File) int64 {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}
