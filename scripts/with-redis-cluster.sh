#!/usr/bin/env bash
# Runs a command against a throwaway 3-node Redis Cluster on loopback, with
# LOCKBOX_TEST_REDIS_CLUSTER set to its node addresses, then stops it.
#   scripts/with-redis-cluster.sh go test -run Cluster ./shared/redisstore/
#
# Client and cluster-bus ports are drawn below the kernel's ephemeral range
# (32768+), apart from the range scripts/with-redis.sh uses; when any node
# fails to start (a port taken anyway), all are stopped and other ports tried.
set -euo pipefail

for tool in redis-server redis-cli; do
	command -v "$tool" >/dev/null || { echo "with-redis-cluster: $tool is not installed (apt-get install -y redis-server)" >&2; exit 1; }
done
dir=$(mktemp -d)
ports=()
stop() {
	local p pid pids=()
	for p in "${ports[@]}"; do
		pid=$(cat "$dir/$p/redis.pid" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null && pids+=("$pid")
	done
	# Wait for the nodes to exit: they write nodes.conf on the way out.
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
}
cleanup() {
	local rc=$?
	stop
	rm -rf "$dir" || echo "with-redis-cluster: could not remove $dir" >&2
	exit "$rc"
}
trap cleanup EXIT

# up waits for the server we started on port $1 to answer (and not some
# other server that already held the port).
up() {
	local pid
	for _ in $(seq 50); do
		pid=$(redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
		[ -n "$pid" ] && [ "$pid" = "$(cat "$dir/$1/redis.pid" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}

# start launches three nodes on base..base+2 (bus ports base+3000..) and
# reports whether all of them answer.
start() {
	local base=$1 ok=0 p
	ports=("$base" "$((base + 1))" "$((base + 2))")
	for p in "${ports[@]}"; do
		mkdir -p "$dir/$p"
		redis-server --bind 127.0.0.1 --port "$p" --cluster-port "$((p + 3000))" --dir "$dir/$p" \
			--cluster-enabled yes --cluster-config-file nodes.conf --save '' --appendonly no \
			--daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" || ok=1
	done
	for p in "${ports[@]}"; do
		up "$p" || { echo "with-redis-cluster: node $p did not start:" >&2; tail -n 3 "$dir/$p/redis.log" >&2 || true; ok=1; }
	done
	return $ok
}

started=
for _ in 1 2 3 4 5; do
	if start $((20000 + RANDOM % 3000 * 3));  then started=1; break; fi
	stop
	sleep 0.2
done
[ -n "$started" ] || { echo "with-redis-cluster: the nodes did not start" >&2; exit 1; }

redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" \
	--cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do
	redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok' && break
	sleep 0.1
done
redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok' ||
	{ echo "with-redis-cluster: the cluster did not reach state ok" >&2; exit 1; }
echo "with-redis-cluster: 3 nodes on 127.0.0.1:${ports[0]}-${ports[2]}" >&2
export LOCKBOX_TEST_REDIS_CLUSTER="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
"$@"
