package main

import (
	"bytes"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"testing"
)

func TestTopLevelHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		var out bytes.Buffer
		if code := run(args, &out, &out); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, c := range commands {
			if !strings.Contains(out.String(), "shardgate "+c.name) {
				t.Errorf("%v does not list %s:\n%s", args, c.name, out.String())
			}
		}
		if strings.Contains(out.String(), "--gossip-addr") {
			t.Errorf("%v prints run's flags instead of the commands", args)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"help", "healthcheck"}, &out, &out); code != 0 || !strings.Contains(out.String(), "-url") {
		t.Errorf("help healthcheck: exit %d, %s", code, out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &errOut, &errOut); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "healthcheck") {
		t.Errorf("the error does not list the commands: %s", errOut.String())
	}
}

// A ctl command line that cannot be right exits 2 before any request is
// made (docs/ctl.md), so a script can tell it from a call that failed.
func TestCtlUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"ctl", "frob"},
		{"ctl", "history", "abc"},
		{"ctl", "events", "--since", "x"},
		{"ctl", "drain"},
		{"ctl", "--bogus", "status"},
		{"ctl", "--admin-url", "127.0.0.1:9", "nodes"},
		{"ctl", "--admin-url", "ftp://127.0.0.1:9", "nodes"},
		{"ctl", "--request-timeout", "abc", "status"},
		{"ctl", "--request-timeout", "0", "status"},
		{"ctl", "--admin-token-file", "/nonexistent/token", "status"},
		{"ctl", "events", "--since", "5", "--tail", "3"},
	} {
		var errOut bytes.Buffer
		if code := run(args, &errOut, &errOut); code != 2 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line", args, code, errOut.String())
		}
	}
}

func TestVersionLine(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/shardgate/shardgate", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		info     *debug.BuildInfo
		override string
		want     string
	}{
		{info, "", "shardgate v0.3.0, revision 0123abcd (modified), committed 2026-12-01T10:00:00Z, go1.26.8"},
		{info, "v9", "shardgate v9, revision 0123abcd (modified)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "shardgate (devel), revision unknown"},
		{nil, "", "shardgate (unknown), revision unknown"},
	}
	for _, tc := range tests {
		if got := versionLine(tc.info, tc.override); !strings.HasPrefix(got, tc.want) {
			t.Errorf("versionLine = %q, want prefix %q", got, tc.want)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "shardgate ") {
		t.Errorf("version: exit %d, %q", code, out.String())
	}
}

// TestDevBusyPort: dev names its own flag when a port is taken.
func TestDevBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	free := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	tests := []struct {
		flag string
		args []string
	}{
		{"--ws-port", []string{"--ws-port", fmt.Sprint(busy), "--admin-port", fmt.Sprint(free()), "--gossip-port", fmt.Sprint(free())}},
		{"--admin-port", []string{"--ws-port", fmt.Sprint(free()), "--admin-port", fmt.Sprint(busy), "--gossip-port", fmt.Sprint(free())}},
		{"--gossip-port", []string{"--ws-port", fmt.Sprint(free()), "--admin-port", fmt.Sprint(free()), "--gossip-port", fmt.Sprint(busy)}},
	}
	for _, tc := range tests {
		var errOut bytes.Buffer
		code := run(append([]string{"dev", "--nodes", "1"}, tc.args...), &errOut, &errOut)
		if code == 0 {
			t.Fatalf("%s busy: dev exited 0", tc.flag)
		}
		msg := errOut.String()
		if !strings.Contains(msg, tc.flag+" ") || strings.Contains(msg, "-addr") || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s busy: %q, want one line naming %s", tc.flag, msg, tc.flag)
		}
	}
}
