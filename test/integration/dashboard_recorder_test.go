//go:build browser

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/browsertest"
)

// The failover test's recorder: a node's shards lack copies only for the
// moment the failover's copies take, often too short for the page's
// coalesced re-reads to catch. The recorder keeps the engine's answer from
// that window, and the scenario replays it into the page.

// replayUnderReplicated shows the page a table the engine answered while
// shards lacked copies, and checks every such shard is marked.
func replayUnderReplicated(t *testing.T, b *dashPage, rec recorded) {
	t.Helper()
	if rec.partitions == nil {
		t.Fatal("the engine never answered /v1/partitions with an under-replicated shard after the kill")
	}
	var pv shardgate.PartitionsView
	var cv shardgate.ClusterView
	if err := json.Unmarshal(rec.partitions, &pv); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec.cluster, &cv); err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, n := range cv.Nodes {
		gone[n.Name] = n.State == shardgate.StateDead || n.State == shardgate.StateLeft
	}
	under, pending, orphan, first := 0, 0, 0, 0
	for _, p := range pv.Partitions {
		if gone[p.Owner] {
			orphan++
		}
		if p.UnderReplicated {
			if under == 0 {
				first = p.ID
			}
			under++
		}
		if len(p.Pending) > 0 {
			pending++
		}
	}
	if under == 0 {
		t.Fatalf("the recorded table v%d has no under-replicated shard", pv.Version)
	}
	type marks struct {
		Under     int    `json:"under"`
		Migrating int    `json:"migrating"`
		Orphan    int    `json:"orphan"`
		Title     string `json:"title"`
		Summary   string `json:"summary"`
	}
	got := browsertest.Eval[marks](b.Browser, `(() => {
		window.shardgate.applyCluster(`+string(rec.cluster)+`, false);
		window.shardgate.applyPartitions(`+string(rec.partitions)+`);
		const map = document.querySelector('#partition-map');
		return {under: map.querySelectorAll('.cell.under').length,
			migrating: map.querySelectorAll('.cell.migrating').length,
			orphan: map.querySelectorAll('.cell.orphan').length,
			title: map.querySelector('[data-shard="`+strconv.Itoa(first)+`"]').title,
			summary: document.querySelector('#map-summary').textContent};
	})()`)
	t.Logf("replayed table v%d: the engine had %d shards under-replicated, %d copying, %d with a dead home; the page marked %d, %d, %d",
		pv.Version, under, pending, orphan, got.Under, got.Migrating, got.Orphan)
	if got.Under != under || got.Migrating != pending || got.Orphan != orphan {
		t.Errorf("the page marks %d under-replicated, %d migrating and %d orphaned shards, the engine said %d, %d and %d",
			got.Under, got.Migrating, got.Orphan, under, pending, orphan)
	}
	if !strings.Contains(got.Title, "UNDER-REPLICATED") {
		t.Errorf("shard %d's tooltip does not say it is under-replicated: %q", first, got.Title)
	}
	want := fmt.Sprintf("%d shards · %d migrating · %d under-replicated", len(pv.Partitions), pending, under)
	if got.Summary != want {
		t.Errorf("map summary %q, want %q", got.Summary, want)
	}
}

// underRecorder polls a node's /v1/cluster and /v1/partitions and keeps
// the pair of answers with the most shards under-replicated or copying.
type underRecorder struct {
	adminURL string
	hc       *http.Client
	quit     chan struct{}
	done     chan struct{}
	best     recorded
}

// recorded is the raw JSON of two admin answers taken together.
type recorded struct{ cluster, partitions []byte }

func recordUnderReplicated(t *testing.T, adminURL string) *underRecorder {
	r := &underRecorder{adminURL: adminURL, hc: &http.Client{Timeout: 2 * time.Second},
		quit: make(chan struct{}), done: make(chan struct{})}
	most := 0
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
			cv, pb := r.get("/v1/cluster"), r.get("/v1/partitions")
			var pv shardgate.PartitionsView
			if cv == nil || pb == nil || json.Unmarshal(pb, &pv) != nil {
				continue
			}
			n := 0 // the most under-replicated, then the most copying
			for _, p := range pv.Partitions {
				if p.UnderReplicated {
					n += 1000
				}
				if len(p.Pending) > 0 {
					n++
				}
			}
			if n > most {
				most, r.best = n, recorded{cluster: cv, partitions: pb}
			}
		}
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *underRecorder) get(path string) []byte {
	req, err := http.NewRequest(http.MethodGet, r.adminURL+path, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+dashToken)
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return body
}

// stop ends the polling (it may be called twice) and returns what it kept.
func (r *underRecorder) stop() recorded {
	select {
	case <-r.quit:
	default:
		close(r.quit)
	}
	<-r.done
	return r.best
}
