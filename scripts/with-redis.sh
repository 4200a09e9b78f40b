#!/usr/bin/env bash
# Runs a command against a throwaway real redis-server on a free loopback
# port, with LOCKBOX_TEST_REDIS_URL pointing at it, then stops the server.
#   scripts/with-redis.sh go test ./shared/redisstore/
#
# Ports are drawn below the kernel's ephemeral range (32768+) so that no
# outgoing connection of an earlier test can hold them; a port that is taken
# anyway makes the server fail to start, and another one is tried.
set -euo pipefail

if ! command -v redis-server >/dev/null; then
	echo "with-redis: redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server)" >&2
	exit 1
fi

dir=$(mktemp -d)
# cleanup stops the server and waits for it to exit (it writes into $dir on
# the way out) before removing $dir; a leftover temp dir is reported, not
# turned into the command's failure.
cleanup() {
	local rc=$? pid
	pid=$(cat "$dir/redis.pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "$dir" || echo "with-redis: could not remove $dir" >&2
	exit "$rc"
}
trap cleanup EXIT

# up waits for the server we started on port $1 to answer (and not some
# other server that already held the port).
up() {
	local pid
	for _ in $(seq 50); do
		pid=$(redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
		[ -n "$pid" ] && [ "$pid" = "$(cat "$dir/redis.pid" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}

port=
for attempt in 1 2 3 4 5; do
	try=$((12000 + RANDOM % 8000))
	rm -f "$dir/redis.pid"
	if redis-server --bind 127.0.0.1 --port "$try" --dir "$dir" --save '' --appendonly no \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" && up "$try"; then
		port=$try
		break
	fi
	echo "with-redis: port $try failed (attempt $attempt):" >&2
	tail -n 3 "$dir/redis.log" >&2 || true
	kill "$(cat "$dir/redis.pid" 2>/dev/null)" 2>/dev/null || true
done
[ -n "$port" ] || { echo "with-redis: redis-server did not start" >&2; exit 1; }
echo "with-redis: redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port" >&2

export LOCKBOX_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
"$@"
