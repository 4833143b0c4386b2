//go:build compose

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestComposeUpWithBusyPort: `scripts/compose.sh up` with a host port taken
// fails with one line naming the variable to change and leaves no
// container, network or volume behind, both when its own check catches
// the port and when compose itself fails on it. Needs Docker; run with
//
//	go test -tags compose -count=1 -run TestCompose ./test/integration/
func TestComposeUpWithBusyPort(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("this test needs docker: " + err.Error())
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	project := fmt.Sprintf("sgbusyport%d", os.Getpid())
	env := append(os.Environ(),
		"SHARDGATE_PROJECT="+project,
		fmt.Sprintf("SHARDGATE_NET=172.29.%d", 10+os.Getpid()%200),
		"SHARDGATE_N1_ADMIN_PORT=", "SHARDGATE_N3_ADMIN_PORT=", // Docker picks
		"SHARDGATE_N2_ADMIN_PORT="+port,
		"SHARDGATE_AUTH_SECRET=compose-test-secret",
		"SHARDGATE_ADMIN_TOKEN=compose-test-token",
		"SHARDGATE_CLUSTER_KEY=MDEyMzQ1Njc4OWFiY2RlZg==",
	)
	script := func(extra []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "compose.sh"), args...)
		cmd.Dir = root
		cmd.Env = append(append([]string{}, env...), extra...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { script(nil, "down") })

	leftovers := func() string {
		var found []string
		for _, what := range [][]string{{"ps", "-a"}, {"network", "ls"}, {"volume", "ls"}} {
			args := append(what, "-q", "--filter", "label=com.docker.compose.project="+project)
			out, err := exec.Command("docker", args...).Output()
			if err != nil {
				t.Fatalf("docker %v: %v", args, err)
			}
			if s := strings.TrimSpace(string(out)); s != "" {
				found = append(found, what[0]+": "+strings.ReplaceAll(s, "\n", " "))
			}
		}
		return strings.Join(found, "; ")
	}

	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"the script's own check", nil, "SHARDGATE_N2_ADMIN_PORT"},
		{"compose fails and the script cleans up", []string{"SHARDGATE_SKIP_PORT_CHECK=1"}, "removing what it started"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := script(tc.extra, "up")
			if err == nil {
				t.Fatalf("compose.sh up succeeded with port %s taken:\n%s", port, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if l := leftovers(); l != "" {
				t.Errorf("left behind: %s", l)
			}
		})
	}
}
