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
