package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version may be set at build time with -ldflags "-X main.version=…";
// otherwise the module version from the build info is used.
var version = ""

// printVersion prints the module version and the VCS revision recorded by
// the Go toolchain (go build stamps them unless -buildvcs=false).
func printVersion(w io.Writer) {
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(w, versionLine(info, version))
}

func versionLine(info *debug.BuildInfo, override string) string {
	if info == nil {
		info = &debug.BuildInfo{}
	}
	v := override
	if v == "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(unknown)"
	}
	s := map[string]string{}
	for _, kv := range info.Settings {
		s[kv.Key] = kv.Value
	}
	var parts []string
	if rev := s["vcs.revision"]; rev != "" {
		r := "revision " + rev
		if s["vcs.modified"] == "true" {
			r += " (modified)"
		}
		if t := s["vcs.time"]; t != "" {
			r += ", committed " + t
		}
		parts = append(parts, r)
	} else {
		parts = append(parts, "revision unknown (built with -buildvcs=false or outside a repository)")
	}
	if info.GoVersion != "" {
		parts = append(parts, info.GoVersion)
	}
	return "shardgate " + v + ", " + strings.Join(parts, ", ")
}
