package integration

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// parallelTests is how many of this package's parallel tests run at once
// when -parallel is not given. Each test runs its own cluster on its own
// ports and data dirs, and spends most of its time waiting on gossip,
// timers and the network rather than on the CPU, so the default of
// GOMAXPROCS (2 on a small machine) leaves the package idle most of the
// time. More than 4 at once on 2 cores under the race detector made every
// test slower than the package gained. Tests that look at the whole
// process (goroutine leaks) do not call t.Parallel and run before the
// parallel ones start.
const parallelTests = 4

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(parallelTests)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
