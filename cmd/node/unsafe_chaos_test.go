//go:build chaos

package main

import "testing"

// TestChaosBuildHasBrokenMode: the chaos suite's broken run depends on it.
func TestChaosBuildHasBrokenMode(t *testing.T) {
	o, err := parseRunIn(t, nil, "--unsafe-ack-before-replicate")
	if err != nil || !o.cfg.AckBeforeReplicate {
		t.Fatalf("chaos build: %v, broken mode %v", err, o != nil && o.cfg.AckBeforeReplicate)
	}
}
