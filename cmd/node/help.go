package main

import (
	"fmt"
	"io"
	"strings"
)

// commands lists the subcommands for `shardgate -h` and `shardgate help`.
var commands = []struct{ name, args, help string }{
	{"run", "[flags]", "start a node (the default command)"},
	{"dev", "[--nodes N]", "a local N-node cluster in this process, printing its URLs"},
	{"ctl", "COMMAND [flags]", "operate a cluster through its admin API: status, nodes, drain, move, …"},
	{"token", "--secret S --user KEY [--ttl 1h]", "mint a client JWT"},
	{"bench", "[flags]", "load generator: throughput, latency, loss and order checks"},
	{"healthcheck", "[--url URL]", "probe a node's /readyz; exit 0 when ready (container health checks)"},
	{"version", "", "module version, VCS revision and Go version"},
	{"help", "", "this text"},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "shardgate: a horizontally sharded WebSocket cluster\n\nUsage:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  shardgate %-12s %-36s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprint(w, "\nRun \"shardgate <command> -h\" for a command's flags and their environment variables.\n")
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// printSettings lists every setting with its environment variable and
// default, secrets with their -file form.
func printSettings(w io.Writer, ss *settings) {
	for _, s := range ss.list {
		flagText := "--" + s.name
		if s.arg != "" {
			flagText += " " + s.arg
		}
		env := "$" + envName(s.name)
		if s.secret {
			flagText += ", --" + s.fileVariant() + " FILE"
			env += ", $" + envName(s.fileVariant())
		}
		line := fmt.Sprintf("  %s   %s", flagText, env)
		if s.def != "" {
			line += "   (default " + s.def + ")"
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, s.help)
	}
}
