package main

import (
	"flag"
	"fmt"
	"os"
)

// flagsFromEnv gives every flag of fs that the command line did not set
// the value of its environment variable (prefix "bench-", --in-flight:
// SHARDGATE_BENCH_IN_FLIGHT), for commands without a settings table. A bad
// value is an error that names the variable.
func flagsFromEnv(fs *flag.FlagSet, prefix string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		name := envName(prefix + f.Name)
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, serr)
		}
	})
	return err
}
