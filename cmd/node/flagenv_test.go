package main

import (
	"flag"
	"strings"
	"testing"
)

func TestFlagsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    int
		wantErr string
	}{
		{name: "default", want: 7},
		{name: "from the environment", env: map[string]string{"SHARDGATE_BENCH_IN_FLIGHT": "64"}, want: 64},
		{name: "the command line wins", env: map[string]string{"SHARDGATE_BENCH_IN_FLIGHT": "64"}, args: []string{"--in-flight", "3"}, want: 3},
		{name: "a bad value names its variable", env: map[string]string{"SHARDGATE_BENCH_IN_FLIGHT": "many"}, wantErr: "SHARDGATE_BENCH_IN_FLIGHT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("bench", flag.ContinueOnError)
			n := fs.Int("in-flight", 7, "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := flagsFromEnv(fs, "bench-")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || *n != tt.want {
				t.Fatalf("in-flight = %d (err %v), want %d", *n, err, tt.want)
			}
		})
	}
}
