#!/bin/sh
# Run docker-compose.cluster.yml with whichever Compose this machine has:
# the `docker compose` plugin (v2) or the older `docker-compose` (v1).
#
#   scripts/compose.sh up      build the static binary and the image, start
#                              n1..n3, wait until all three are healthy
#   scripts/compose.sh join    start the spare node n4 and wait for it
#   scripts/compose.sh down    remove containers, network and volumes
#   scripts/compose.sh ARGS    anything else goes to compose as is
#                              (ps -q n1, logs -f n2, stop n3, ...)
#
# Secrets come from the environment; when SHARDGATE_AUTH_SECRET,
# SHARDGATE_ADMIN_TOKEN and SHARDGATE_CLUSTER_KEY are unset they are read
# from build/cluster.env, which is created with random values on first use.
# SHARDGATE_PROJECT names the compose project (default shardgate).
set -eu

cd "$(dirname "$0")/.."

if docker compose version >/dev/null 2>&1; then
	compose() { docker compose "$@"; }
elif command -v docker-compose >/dev/null 2>&1; then
	compose() { docker-compose "$@"; }
else
	echo "compose.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
	exit 1
fi

project=${SHARDGATE_PROJECT:-shardgate}
file=docker-compose.cluster.yml

load_secrets() {
	if [ -n "${SHARDGATE_AUTH_SECRET:-}" ] && [ -n "${SHARDGATE_ADMIN_TOKEN:-}" ] && [ -n "${SHARDGATE_CLUSTER_KEY:-}" ]; then
		return
	fi
	if [ ! -f build/cluster.env ]; then
		mkdir -p build
		(
			umask 077 # only the secrets file; the binary must stay world-executable
			{
				echo "SHARDGATE_AUTH_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
				echo "SHARDGATE_ADMIN_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '\n/+=')"
				echo "SHARDGATE_CLUSTER_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
			} >build/cluster.env
		)
		echo "compose.sh: wrote new secrets to build/cluster.env" >&2
	fi
	set -a
	. ./build/cluster.env
	set +a
}

build() {
	mkdir -p build/rootfs/data
	echo "compose.sh: building build/shardgate (static)" >&2
	# SHARDGATE_BUILD_TAGS=chaos builds the binary with the broken mode the
	# chaos suite's -broken run needs; release binaries do not have it.
	CGO_ENABLED=0 go build -trimpath ${SHARDGATE_BUILD_TAGS:+-tags "$SHARDGATE_BUILD_TAGS"} -o build/shardgate ./cmd/node
	# The image runs as nobody and COPY keeps the mode: a 0700 binary
	# (a restrictive umask) would not start.
	chmod 0755 build/shardgate
	chmod 0755 build/rootfs/data
}

# wait_healthy SERVICE...: until Docker's health check passes, at most 120 s.
wait_healthy() {
	for svc in "$@"; do
		id=$(compose -p "$project" -f "$file" --profile join ps -q "$svc")
		if [ -z "$id" ]; then
			echo "compose.sh: service $svc has no container" >&2
			exit 1
		fi
		i=0
		until [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ]; do
			i=$((i + 1))
			if [ "$i" -gt 120 ]; then
				echo "compose.sh: $svc is not healthy after 120 s; last log lines:" >&2
				docker logs --tail 30 "$id" >&2 || true
				exit 1
			fi
			sleep 1
		done
		echo "compose.sh: $svc healthy" >&2
	done
}

load_secrets
case "${1:-}" in
up)
	shift
	build
	compose -p "$project" -f "$file" build
	compose -p "$project" -f "$file" up -d "$@" n1 n2 n3
	wait_healthy n1 n2 n3
	echo "compose.sh: dashboards on http://${SHARDGATE_NET:-172.30.99}.11:9090/ (.12, .13); admin token in build/cluster.env" >&2
	;;
join)
	compose -p "$project" -f "$file" --profile join up -d n4
	wait_healthy n4
	;;
down)
	shift
	compose -p "$project" -f "$file" --profile join down -v --remove-orphans "$@"
	;;
*)
	compose -p "$project" -f "$file" --profile join "$@"
	;;
esac
