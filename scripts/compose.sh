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
#
# Other variables:
#   SHARDGATE_PROJECT          compose project name (default shardgate)
#   SHARDGATE_NET              first three octets of the cluster's /24
#                              (default 172.30.99; nodes are .11 to .14)
#   SHARDGATE_N1_ADMIN_PORT    host port of n1's admin listener on 127.0.0.1
#   ... _N2_, _N3_, _N4_       (defaults 19091 to 19094); set one empty
#                              (SHARDGATE_N2_ADMIN_PORT=) to let Docker pick
#   SHARDGATE_PARTITIONS, SHARDGATE_BACKUPS, SHARDGATE_IMAGE_TAG
#
# `up` and `join` refuse to start when a host port is taken, naming the
# variable to change, and when compose fails anyway they remove what the
# attempt started: a failed start leaves nothing running.
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

# admin_port SERVICE: the host port compose publishes SERVICE's admin
# listener on ("" when Docker picks one), as docker-compose.cluster.yml
# computes it.
admin_port() {
	case $1 in
	n1) echo "${SHARDGATE_N1_ADMIN_PORT-19091}" ;;
	n2) echo "${SHARDGATE_N2_ADMIN_PORT-19092}" ;;
	n3) echo "${SHARDGATE_N3_ADMIN_PORT-19093}" ;;
	n4) echo "${SHARDGATE_N4_ADMIN_PORT-19094}" ;;
	esac
}

# port_busy PORT: something accepts connections on 127.0.0.1:PORT. Uses
# bash's /dev/tcp; without bash the check passes and compose reports.
port_busy() {
	command -v bash >/dev/null 2>&1 || return 1
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# check_ports SERVICE...: refuse before anything starts when a host port a
# service needs is taken (a service already running in this project holds
# its own port and is skipped).
check_ports() {
	[ -n "${SHARDGATE_SKIP_PORT_CHECK:-}" ] && return 0 # tests of the clean-up below
	for svc in "$@"; do
		port=$(admin_port "$svc")
		[ -n "$port" ] || continue
		[ -z "$(compose -p "$project" -f "$file" --profile join ps -q "$svc" 2>/dev/null)" ] || continue
		if port_busy "$port"; then
			var=SHARDGATE_$(echo "$svc" | tr '[:lower:]' '[:upper:]')_ADMIN_PORT
			echo "compose.sh: 127.0.0.1:$port, the host port of $svc's admin listener, is in use; set $var to a free port (or $var= to let Docker pick one). Nothing was started." >&2
			exit 1
		fi
	done
}

# start SERVICE...: compose up; when that fails, remove what this attempt
# started (everything, if the project had no container before).
start() {
	before=$(compose -p "$project" -f "$file" --profile join ps -q 2>/dev/null || true)
	if compose -p "$project" -f "$file" --profile join up -d "$@"; then
		return 0
	fi
	echo "compose.sh: compose could not start $*; removing what it started" >&2
	if [ -z "$before" ]; then
		compose -p "$project" -f "$file" --profile join down -v --remove-orphans >&2 || true
	else
		for svc in "$@"; do
			case $svc in -*) continue ;; esac
			id=$(compose -p "$project" -f "$file" --profile join ps -q "$svc" 2>/dev/null || true)
			if [ -n "$id" ] && ! echo "$before" | grep -q "$id"; then
				docker rm -f -v "$id" >/dev/null 2>&1 || true
			fi
		done
	fi
	exit 1
}

load_secrets
case "${1:-}" in
up)
	shift
	check_ports n1 n2 n3
	build
	compose -p "$project" -f "$file" build
	start "$@" n1 n2 n3
	wait_healthy n1 n2 n3
	echo "compose.sh: dashboards on http://127.0.0.1:$(admin_port n1)/ (n2: $(admin_port n2), n3: $(admin_port n3); empty: see 'scripts/compose.sh port n1 9090') and http://${SHARDGATE_NET:-172.30.99}.11:9090/; admin token in build/cluster.env" >&2
	;;
join)
	check_ports n4
	start n4
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
