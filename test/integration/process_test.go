package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/test/checker"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// shardgateBinary builds cmd/node once per test binary.
func shardgateBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shardgate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "shardgate")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/shardgate/shardgate/cmd/node").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one shardgate node running as its own process.
type proc struct {
	name, dataDir           string
	gossip, ws, admin, join string
	extra                   []string // flags used instead of --insecure
	cmd                     *exec.Cmd
	log                     *os.File
}

func (p *proc) start(t testing.TB) {
	t.Helper()
	args := []string{"run", "--name", p.name, "--data-dir", p.dataDir, "--gossip-addr", p.gossip,
		"--ws-addr", p.ws, "--admin-addr", p.admin, "--partitions", "64", "--fast-failure-detection"}
	if p.extra != nil {
		args = append(args, p.extra...)
	} else {
		args = append(args, "--insecure")
	}
	if p.join != "" {
		args = append(args, "--join", p.join)
	}
	p.cmd = exec.Command(shardgateBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
}

// kill sends SIGKILL: no drain, no leave, no flush.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func getJSON(ctx context.Context, u string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", u, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

// stableProcs reports whether every node answers with the same table in
// which every shard is stable and held by the given nodes only.
func stableProcs(procs []*proc) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	live := map[string]bool{}
	for _, p := range procs {
		live[p.name] = true
	}
	var version uint64
	for i, p := range procs {
		var pv shardgate.PartitionsView
		if err := getJSON(ctx, "http://"+p.admin+"/v1/partitions", &pv); err != nil {
			return false
		}
		if pv.Version == 0 || len(pv.Partitions) == 0 {
			return false // no table yet: nothing to call stable
		}
		if i == 0 {
			version = pv.Version
		} else if pv.Version != version {
			return false
		}
		for _, s := range pv.Partitions {
			if !live[s.Owner] || s.State != shardgate.ShardStable || s.UnderReplicated {
				return false
			}
		}
	}
	return true
}

// A node process is killed with SIGKILL under traffic and restarted with
// its data dir: every acknowledged message is found, exactly once, and the
// restarted node serves its shards again.
func TestProcessKill9AndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var procs []*proc
	for i := 1; i <= 3; i++ {
		p := &proc{name: fmt.Sprintf("n%d", i), dataDir: filepath.Join(dir, fmt.Sprintf("n%d", i)),
			gossip: testutil.FreeAddr(t), ws: testutil.FreeAddr(t),
			admin: testutil.FreeAddr(t)}
		if i > 1 {
			p.join = procs[0].gossip
		}
		f, err := os.Create(filepath.Join(dir, p.name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		p.log = f
		procs = append(procs, p)
		p.start(t)
		t.Cleanup(p.kill)
	}
	defer func() {
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(p.log.Name())
				t.Logf("--- %s log (tail):\n%s", p.name, tail(b, 3000))
			}
		}
	}()
	testutil.Eventually(t, 60*time.Second, "3 processes stable", func() bool { return stableProcs(procs) })

	rec := checker.NewRecorder()
	keys := []string{"ka", "kb", "kc", "kd", "ke", "kf", "kg", "kh"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sender, err := client.Dial(ctx, "ws://"+procs[0].ws+"/v1/ws", client.Options{User: "sender"})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	n := 0
	sendFor := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			to, id := keys[n%len(keys)], fmt.Sprintf("s-%d", n)
			for attempt := 0; attempt < 100; attempt++ {
				c, cc := context.WithTimeout(ctx, 3*time.Second)
				res, err := sender.Send(c, to, n, id)
				cc()
				if err == nil {
					rec.Attempt(to, "sender", id, checker.Acked, res.Seq)
					break
				}
				rec.Attempt(to, "sender", id, checker.Unknown, 0)
				time.Sleep(50 * time.Millisecond)
			}
			n++
		}
	}
	sendFor(2 * time.Second)
	procs[1].kill()
	sendFor(3 * time.Second)
	procs[1].start(t)
	testutil.Eventually(t, 60*time.Second, "cluster stable after restart", func() bool { return stableProcs(procs) })
	sendFor(time.Second)

	inboxes := map[string][]shardgate.Message{}
	for _, k := range keys {
		var h shardgate.HistoryResult
		u := "http://" + procs[1].admin + "/v1/users/" + url.PathEscape(k) + "/messages?since=0&limit=1000"
		if err := getJSON(ctx, u, &h); err != nil {
			t.Fatalf("read inbox of %s through the restarted node: %v", k, err)
		}
		inboxes[k] = h.Messages
	}
	rep := rec.Check(inboxes)
	t.Logf("kill -9 and restart:\n%s", rep.Table())
	if !rep.OK() || rep.Acked == 0 {
		t.Fatalf("guarantees violated or nothing acknowledged:\n%s", rep.Table())
	}
	var cv shardgate.ClusterView
	if err := getJSON(ctx, "http://"+procs[0].admin+"/v1/cluster", &cv); err != nil {
		t.Fatal(err)
	}
	for _, nv := range cv.Nodes {
		if nv.Name == "n2" && (nv.State != shardgate.StateActive || nv.Owned == 0) {
			t.Fatalf("restarted n2 is %s and owns %d shards", nv.State, nv.Owned)
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
