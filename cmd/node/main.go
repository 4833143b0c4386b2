package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit code. Errors are printed
// as one line, never a stack trace.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && isHelp(args[0]) {
		cmd = "help" // `shardgate -h` lists the commands, not run's flags
	}
	ctx, stop := signalContext()
	defer stop()
	var err error
	switch cmd {
	case "run":
		err = runNode(ctx, args, stdout, stderr)
	case "dev":
		err = runDev(ctx, args, stdout, stderr)
	case "token":
		err = runToken(args, stdout, stderr)
	case "bench":
		err = runBench(ctx, args, stdout, stderr)
	case "healthcheck":
		err = runHealthcheck(args, stdout, stderr)
	case "ctl":
		err = runCtl(ctx, args, stdout)
	case "version":
		printVersion(stdout)
	case "help":
		if len(args) > 0 && !isHelp(args[0]) {
			return run([]string{args[0], "-h"}, stdout, stderr)
		}
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "shardgate: unknown command %q (commands: %s)\n", cmd, commandNames())
		return 2
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil && strings.Contains(err.Error(), "(see '") {
		fmt.Fprintln(stderr, "shardgate:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "shardgate:", err)
		return 1
	}
	return 0
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help"
}

// signalContext is cancelled by the first SIGTERM/SIGINT; a second one
// exits at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			return
		}
		if sig, ok := <-ch; ok {
			// The drain is abandoned: say so, or the operator reads a
			// node that vanished mid-drain as a crash.
			fmt.Fprintf(os.Stderr, "shardgate: a second signal (%v): stopping now, without finishing the graceful stop; this node's shards fail over to their backups\n", sig)
			os.Exit(1)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
