//go:build !linux

package wal

import (
	"errors"
	"os"
)

func datasync(f *os.File) error { return f.Sync() }

// preallocate is not done here: records are appended as they come.
func preallocate(*os.File, int64, int64) error { return errors.ErrUnsupported }

func freeBytes(*os.File) int64 { return 0 }
