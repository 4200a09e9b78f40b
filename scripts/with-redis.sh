#!/usr/bin/env bash
# Runs a command against a throwaway real redis-server on a free loopback
# port, with LOCKBOX_TEST_REDIS_URL pointing at it, then stops the server.
#   scripts/with-redis.sh go test ./shared/redisstore/
set -euo pipefail

if ! command -v redis-server >/dev/null; then
	echo "with-redis: redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server)" >&2
	exit 1
fi

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)))
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
	--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
cleanup() {
	kill "$(cat "$dir/redis.pid" 2>/dev/null)" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 50); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "with-redis: redis-server did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }
echo "with-redis: redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port" >&2

export LOCKBOX_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
"$@"
