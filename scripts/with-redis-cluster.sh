#!/usr/bin/env bash
# Runs a command against a throwaway 3-node Redis Cluster on loopback, with
# LOCKBOX_TEST_REDIS_CLUSTER set to its node addresses, then stops it.
#   scripts/with-redis-cluster.sh go test -run Cluster ./shared/redisstore/
set -euo pipefail

for tool in redis-server redis-cli; do
	command -v "$tool" >/dev/null || { echo "with-redis-cluster: $tool is not installed (apt-get install -y redis-server)" >&2; exit 1; }
done
dir=$(mktemp -d)
base=$((30000 + RANDOM % 20000))
ports=("$base" "$((base + 1))" "$((base + 2))")
cleanup() {
	for p in "${ports[@]}"; do
		kill "$(cat "$dir/$p/redis.pid" 2>/dev/null)" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
for p in "${ports[@]}"; do
	mkdir -p "$dir/$p"
	redis-server --bind 127.0.0.1 --port "$p" --dir "$dir/$p" --cluster-enabled yes --cluster-config-file nodes.conf \
		--save '' --appendonly no --daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
done
for p in "${ports[@]}"; do
	for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" \
	--cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do
	redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok' && break
	sleep 0.1
done
echo "with-redis-cluster: 3 nodes on 127.0.0.1:${ports[0]}-${ports[2]}" >&2
export LOCKBOX_TEST_REDIS_CLUSTER="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
"$@"
