package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Re-registration after a home change. The registry of where a key's
// connections are lives on the key's home, so when the home changes every
// node holding connections of the key registers them with the new home
// (Attach with the node's count). The new home may acknowledge writes
// before that registration arrives; those it cannot push. So each node,
// once its registration is accepted, tells its connections the key's
// last seq as the new home saw it after registering, and the connections
// fill the gap from history: every message is then either at or below
// that last seq (caught up) or committed after the registration (pushed).
//
// A registration that fails (the new home is not reachable yet) is retried
// until it succeeds, the node has no connections of the key any more, or
// the node stops.

// reattachWorkers bounds the registrations in flight at once.
const reattachWorkers = 16

type reattacher struct {
	reattachDeps
	mu    sync.Mutex
	dirty map[string]struct{}
	wake  chan struct{}
}

// reattachDeps is what the reattacher is given; it reaches nothing else.
type reattachDeps struct {
	log *slog.Logger
	// tableChanged returns a channel closed at the next table change: a
	// failed registration is retried then.
	tableChanged func() <-chan struct{}
	// reattach registers this node's connections of key with its home.
	reattach func(key string) error
}

func newReattacher(d reattachDeps) (*reattacher, error) {
	if d.tableChanged == nil || d.reattach == nil {
		return nil, errors.New("reattacher: a dependency is missing")
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return &reattacher{reattachDeps: d, dirty: map[string]struct{}{}, wake: make(chan struct{}, 1)}, nil
}

// mark queues key for re-registration with its current home.
func (r *reattacher) mark(key string) {
	r.mu.Lock()
	r.dirty[key] = struct{}{}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reattacher) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.dirty))
	for k := range r.dirty {
		keys = append(keys, k)
	}
	clear(r.dirty)
	return keys
}

// loop runs until ctx ends; it is started by Start.
func (r *reattacher) loop(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		keys := r.take()
		failed := r.round(keys)
		if len(failed) == 0 {
			backoff = 50 * time.Millisecond
			continue
		}
		for _, k := range failed {
			r.mark(k)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.tableChanged():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// round registers every key once and returns those that failed.
func (r *reattacher) round(keys []string) []string {
	var mu sync.Mutex
	var failed []string
	sem := make(chan struct{}, reattachWorkers)
	var wg sync.WaitGroup
	for _, key := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.reattach(key); err != nil {
				r.log.Debug("re-register connections", "key", key, "err", err)
				mu.Lock()
				failed = append(failed, key)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}
