package ctl

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
)

func TestRanges(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{nil, "-"},
		{[]int{5}, "5"},
		{[]int{3, 1, 2, 7, 9, 10}, "1-3,7,9-10"},
	}
	for _, tc := range tests {
		if got := ranges(tc.in); got != tc.want {
			t.Errorf("ranges(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPrintPlan(t *testing.T) {
	plan := shardgate.MoveReport{Action: "drain", Node: "n3", Version: 12, Summary: "n3 hands 2 shards to n1 and n2",
		Moves:      []shardgate.Move{{Shard: 4, From: "n3", To: "n1", Role: "owner", Bytes: 2048}, {Shard: 9, From: "n3", To: "n2", Role: "owner", Bytes: 1024}},
		EstimateMS: 1500}
	tests := []struct {
		name   string
		dry    bool // the server says it was a dry run
		asked  bool // --dry-run was given
		want   []string
		forbid []string
	}{
		{"dry run", true, true, []string{"drain n3 (dry run: nothing changed), from table version 12", "n3 hands 2 shards", "SHARD", "4      owner  n3    n1  2.0 KiB", "\n2 moves\n"}, []string{"did not confirm", "2 moves,"}},
		{"dry run not honoured", false, true, []string{"did not confirm a dry run"}, nil},
		{"carried out", false, false, []string{"drain n3, from table version 12", "2 moves, 3.0 KiB to copy, about 1.5s"}, []string{"dry run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := plan
			p.DryRun = tc.dry
			if !tc.dry && !tc.asked {
				p.Summary = "" // an older server: the CLI counts the moves itself
			}
			printPlan(&session{env: Env{Stdout: &out}, cmd: command{name: "drain"}}, p, tc.asked, "")
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.forbid {
				if strings.Contains(out.String(), w) {
					t.Errorf("has %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestReadSSE(t *testing.T) {
	defer goleak.VerifyNone(t)
	stream := "retry: 2000\n\n: heartbeat\n\nevent: member\ndata: {\"type\":\"member\"}\n\n" +
		"event: table\ndata: {\"a\":\ndata: 1}\n\nevent: incomplete\ndata: x"
	out := make(chan sseEvent, 10)
	if err := readSSE(strings.NewReader(stream), out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []string
	for ev := range out {
		got = append(got, ev.name+" "+string(ev.data))
	}
	want := []string{`member {"type":"member"}`, "table {\"a\":\n1}"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAPIErrorShapes(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{409, `{"error":{"code":"conflict","message":"n2 is the only active node"}}`, "409 conflict: n2 is the only active node"},
		{401, `{"error":{"code":"unauthorized","message":"missing bearer token"}}`, "401 unauthorized: missing bearer token (set --admin-token or SHARDGATE_ADMIN_TOKEN)"},
		{502, "<html>\nbad gateway\n</html>", "502 bad_gateway: <html>"},
		{404, "", "404 not_found: the server answered without shardgate's error body: is --admin-url a node's admin listener?"},
	}
	for _, tc := range tests {
		if got := apiError(tc.status, []byte(tc.body)).Error(); got != tc.want {
			t.Errorf("apiError(%d) = %q, want %q", tc.status, got, tc.want)
		}
	}
}

// TestPrintMovePlanNamesTheShard: a move's answer names only the target
// node; the first line says which shard goes where.
func TestPrintMovePlanNamesTheShard(t *testing.T) {
	var out bytes.Buffer
	p := shardgate.MoveReport{Action: "move", Node: "n2", Version: 40, DryRun: true, Summary: "1 shard changes home",
		Moves: []shardgate.Move{{Shard: 17, From: "n1", To: "n2", Role: "owner"}}}
	s := &session{env: Env{Stdout: &out}, cmd: command{name: "move"}}
	printPlan(s, p, true, "move shard 17 to n2")
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "move shard 17 to n2 (dry run: nothing changed), from table version 40" {
		t.Errorf("first line %q", first)
	}
}
