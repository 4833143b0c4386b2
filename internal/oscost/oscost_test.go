//go:build linux

package oscost

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/shardgate/shardgate/internal/testutil"
)

// BenchmarkLoopbackWrite writes 200-byte chunks (a send's frame) on a
// loopback TCP connection whose other end a goroutine drains. The CPU is
// the whole process's, both ends: on loopback the sender's write also
// runs the receiver's network stack.
func BenchmarkLoopbackWrite(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	drained := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			drained <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		drained <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 200)
	b.ResetTimer()
	cpu0 := testutil.ProcessCPU(b)
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/write")
}

// BenchmarkAppendFdatasync appends 8 KiB (a group commit of about forty
// sends) to a file and syncs it with fdatasync, as the store's log does
// once per commit.
func BenchmarkAppendFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := make([]byte, 8<<10)
	b.ResetTimer()
	cpu0 := testutil.ProcessCPU(b)
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/commit")
}
