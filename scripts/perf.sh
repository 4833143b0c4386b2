#!/usr/bin/env bash
# perf.sh: the figures of docs/PERFORMANCE.md on this machine. It starts
# three node processes on loopback (B = 1, fsync on, insecure dev auth),
# runs `shardgate bench` against them in its own process, and writes each
# run's JSON report to OUT (default ./build/perf-<label>).
#
#   scripts/perf.sh [label]            # label names the output directory
#   NODE_BIN=/path/shardgate-old scripts/perf.sh before
#
# NODE_BIN is the node binary (default: built from this tree), BENCH_BIN the
# bench binary (default: the same). DURATION (default 10s) is each run's
# measured part. RUNS (default "send64 send256 fanout") picks the runs;
# routed64 and routed256 are send64 and send256 with --route (each
# connection on its key's home);
# rateN is an open-loop run offering N sends/s (scripts/latency-curve.sh);
# inflightN is a closed loop keeping N sends outstanding (inflight512 and
# inflight768 offer two and three times send256's concurrency: overload,
# which the nodes' in-flight bound answers with 1002). NODE_FLAGS adds flags
# to every node (NODE_FLAGS="--node-in-flight 64"); NODE_ENV sets variables
# for the node processes only (NODE_ENV="GOMAXPROCS=1": each of the three
# nodes gets one of the runtime's processors, the bench keeps its own).
set -euo pipefail
cd "$(dirname "$0")/.."

label=${1:-now}
out=${OUT:-build/perf-$label}
duration=${DURATION:-10s}
runs=${RUNS:-"send64 send256 fanout"}
mkdir -p "$out" build
if [[ -z "${NODE_BIN:-}" || -z "${BENCH_BIN:-}" ]]; then
	go build -o build/shardgate ./cmd/node
fi
node_bin=${NODE_BIN:-build/shardgate}
bench_bin=${BENCH_BIN:-build/shardgate}

data=$(mktemp -d /tmp/shardgate-perf.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$data"
}
trap cleanup EXIT

ws=() admin=()
for i in 1 2 3; do
	ws+=("ws://127.0.0.1:1808$i/v1/ws")
	admin+=("http://127.0.0.1:1909$i")
	join=()
	[[ $i -gt 1 ]] && join=(--join 127.0.0.1:17941)
	env ${NODE_ENV:-} "$node_bin" run --name "p$i" --data-dir "$data/p$i" --insecure \
		--gossip-addr "127.0.0.1:1794$i" --ws-addr "127.0.0.1:1808$i" --admin-addr "127.0.0.1:1909$i" \
		--max-connections-per-addr 0 ${NODE_FLAGS:-} "${join[@]}" >"$out/node-p$i.log" 2>&1 &
	pids+=($!)
done
# A node's readiness can flap while the first tables settle, so the loop
# remembers that it was seen ready instead of asking once more.
for a in "${admin[@]}"; do
	ready=
	for _ in $(seq 300); do
		if curl -fs "$a/readyz" >/dev/null 2>&1; then
			ready=1
			break
		fi
		sleep 0.2
	done
	[[ -n $ready ]] || { echo "perf: $a never became ready" >&2; exit 1; }
done
sleep 3 # the table settles: every node owns shards

nodes=$(IFS=,; echo "${ws[*]}")
metrics=$(IFS=,; echo "${admin[*]}")
run() {
	local name=$1
	shift
	echo "== $name: bench $*" | tee -a "$out/summary.txt"
	"$bench_bin" bench --quiet --metrics "$metrics" --duration "$duration" --warmup 2s \
		--json "$out/$name.json" "$@" | tee -a "$out/summary.txt"
}
for r in $runs; do
	case $r in
	send64) run send64 --nodes "$nodes" --conns 256 --in-flight 64 ;;
	send256) run send256 --nodes "$nodes" --conns 256 --in-flight 256 ;;
	# The same loads with one-hop clients: each connection on its key's home.
	routed64) run routed64 --nodes "$nodes" --conns 256 --in-flight 64 --route ;;
	routed256) run routed256 --nodes "$nodes" --conns 256 --in-flight 256 --route ;;
	# Subscribers and publishers all on one node.
	fanout) run fanout --mode fanout --nodes "${ws[0]}" --subscribers 1000 --publishers 8 --in-flight 8 --grace 2s ;;
	# Open loop at a fixed offered rate: rate2000 offers 2,000 sends/s.
	rate[0-9]*) run "$r" --nodes "$nodes" --conns 256 --rate "${r#rate}" ;;
	# Closed loop at a fixed concurrency: inflight768 keeps 768 outstanding.
	inflight[0-9]*) run "$r" --nodes "$nodes" --conns 256 --in-flight "${r#inflight}" ;;
	*) echo "perf: unknown run $r" >&2; exit 2 ;;
	esac
done
