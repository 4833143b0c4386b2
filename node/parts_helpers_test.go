package node

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shardgate/shardgate/store"
	"go.uber.org/goleak"
)

// openStore opens a store of its own for a test of one part, closed (and
// its context cancelled) when the test ends, after which no goroutine may
// be left.
func openStore(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last
	st, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "shardgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		st.Close()
	})
	return st, ctx
}
