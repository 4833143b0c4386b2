#!/bin/sh
# Remove whatever an interrupted chaos run left behind. The suite cleans up
# after itself on every exit it can see (end of run, failure, Ctrl-C,
# -timeout) and removes leftovers when it starts; this is for the case it
# cannot see: the suite itself killed with SIGKILL.
#
#   process tier: network namespaces sgchaos-*, the host link sgch-host
#                 (node processes die with the suite: they carry a
#                 parent-death signal)
#   compose tier: the compose project sgchaos (containers, network, volumes)
#   both tiers:   the small tmpfs of the disk-full fault, mounted on
#                 /tmp/shardgate-chaos-*/n3 or .../n3-data (or on the run
#                 directory given with -dir)
set -u

cd "$(dirname "$0")/.."

for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^sgchaos-'); do
	ip netns del "$ns" && echo "removed network namespace $ns"
done
if ip link show sgch-host >/dev/null 2>&1; then
	ip link del sgch-host && echo "removed link sgch-host"
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	# compose.sh refuses to run without secrets; any value will do for down.
	SHARDGATE_PROJECT=sgchaos SHARDGATE_AUTH_SECRET=x SHARDGATE_ADMIN_TOKEN=x SHARDGATE_CLUSTER_KEY=x \
		scripts/compose.sh down -t 1
fi

# Small filesystems of the disk-full fault (tmpfs mounts under a run dir).
awk '$3 == "tmpfs" && ($2 ~ /\/shardgate-chaos-[^\/]*\/n3(-data)?$/ || $2 ~ /\/run\/n3(-data)?$/) {print $2}' /proc/self/mounts |
	while read -r dir; do
		umount -l "$dir" && echo "unmounted $dir"
	done
