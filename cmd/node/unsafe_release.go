//go:build !chaos

package main

import (
	"fmt"

	"github.com/shardgate/shardgate/app"
)

// unsafeSettings is empty in a release build: --unsafe-ack-before-replicate
// is an unknown flag here (see unsafe_chaos.go).
func unsafeSettings(*app.Config) []*setting { return nil }

// checkUnsafeEnv refuses to start when the environment asks for the broken
// mode, instead of ignoring a variable that was meant to do something.
func checkUnsafeEnv(lookup func(string) (string, bool)) error {
	v, ok := lookup("SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE")
	if !ok {
		return nil
	}
	if on, err := parseBool(v); err == nil && !on {
		return nil
	}
	return fmt.Errorf("SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE=%s: this binary was built without the chaos tag and has no broken mode", v)
}
