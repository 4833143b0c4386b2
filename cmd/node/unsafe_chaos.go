//go:build chaos

package main

import "github.com/shardgate/shardgate/app"

// unsafeSettings exist only in binaries built with -tags chaos: the chaos
// suite's broken run needs a node that loses acknowledged messages, and no
// production binary may be able to become one.
func unsafeSettings(c *app.Config) []*setting {
	return []*setting{
		boolSetting(&c.AckBeforeReplicate, "unsafe-ack-before-replicate", "BROKEN ON PURPOSE, for testing the test suite: acknowledge before backups commit (chaos builds only)"),
	}
}

// checkUnsafeEnv has nothing to refuse in a chaos build.
func checkUnsafeEnv(func(string) (string, bool)) error { return nil }
