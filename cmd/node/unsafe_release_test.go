//go:build !chaos

package main

import (
	"strings"
	"testing"
)

// TestReleaseBuildHasNoBrokenMode: the switch that makes a node lose
// acknowledged messages exists only in chaos builds; a release binary
// refuses both its flag and its variable rather than ignore them.
func TestReleaseBuildHasNoBrokenMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // "" = accepted
	}{
		{"flag", nil, []string{"--unsafe-ack-before-replicate"}, "unsafe-ack-before-replicate"},
		{"env on", map[string]string{"SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE": "1"}, nil, "without the chaos tag"},
		{"env garbage", map[string]string{"SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE": "maybe"}, nil, "without the chaos tag"},
		{"env off", map[string]string{"SHARDGATE_UNSAFE_ACK_BEFORE_REPLICATE": "0"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseRunIn(t, tc.env, tc.args...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			case err == nil && o.cfg.AckBeforeReplicate:
				t.Fatal("release build turned the broken mode on")
			}
		})
	}
}
