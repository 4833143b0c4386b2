package node

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shardgate/shardgate"
)

// linkFunc serves one node-link method for peer from. It is called on the
// link's goroutine for that request, concurrently with every other
// request; it may block for as long as ctx allows.
type linkFunc func(ctx context.Context, from string, body json.RawMessage) (any, error)

// linkMux maps node-link methods to the part that serves them. Every part
// registers its own methods while the engine is assembled (New); after
// that the map is only read, so serving needs no lock.
type linkMux struct {
	fns map[string]linkFunc
}

func newLinkMux() *linkMux { return &linkMux{fns: map[string]linkFunc{}} }

// handle registers f for method. A method registered twice is a wiring
// mistake, reported by New.
func (x *linkMux) handle(method string, f linkFunc) error {
	if _, dup := x.fns[method]; dup {
		return fmt.Errorf("node-link method %q registered twice", method)
	}
	x.fns[method] = f
	return nil
}

// serve runs method's handler; an unknown method is KindNotFound.
func (x *linkMux) serve(ctx context.Context, from, method string, body json.RawMessage) (any, error) {
	f, ok := x.fns[method]
	if !ok {
		return nil, shardgate.Errorf(shardgate.KindNotFound, "unknown node-link method %q", method)
	}
	return f(ctx, from, body)
}

// linkRoute is one registration: a method and its handler.
type linkRoute struct {
	method string
	fn     linkFunc
}

// registerAll registers routes, stopping at the first mistake.
func (x *linkMux) registerAll(routes ...linkRoute) error {
	for _, r := range routes {
		if err := x.handle(r.method, r.fn); err != nil {
			return err
		}
	}
	return nil
}

// typed adapts a handler of a decoded request body to a linkFunc.
func typed[T any](f func(ctx context.Context, from string, r T) (any, error)) linkFunc {
	return func(ctx context.Context, from string, body json.RawMessage) (any, error) {
		r, err := decode[T](body)
		if err != nil {
			return nil, err
		}
		return f(ctx, from, r)
	}
}

// done answers {} for a handler that only reports an error.
func done(err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
