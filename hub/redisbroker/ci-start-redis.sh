#!/usr/bin/env bash
# ci-start-redis.sh: start a throwaway Redis server for the hub/redisbroker
# tests and print where it is.
#
# It installs the Debian package redis-server if redis-server is missing,
# starts it as a background daemon on a free loopback port with a temporary
# directory and no persistence (no RDB snapshots, no AOF), waits until it
# answers, and prints shell assignments on stdout:
#
#	TORNAGO_REDIS_ADDR=127.0.0.1:PORT
#	TORNAGO_REDIS_PID=PID
#
# so that a CI script can do
#
#	eval "$(hub/redisbroker/ci-start-redis.sh)"
#	export TORNAGO_REDIS_ADDR
#	trap 'kill "$TORNAGO_REDIS_PID"' EXIT
#
# Progress goes to stderr. The server stops with `kill "$TORNAGO_REDIS_PID"`;
# its temporary directory is removed when it exits.
set -euo pipefail

log() { echo "ci-start-redis: $*" >&2; }

install_redis() {
	command -v redis-server >/dev/null && return 0
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	log "installing redis-server"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y --no-install-recommends redis-server >&2 ||
		{ "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y --no-install-recommends redis-server >&2; }
}

# free_port prints a loopback TCP port nothing listens on (a candidate:
# start_redis retries if another process takes it first).
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# start_redis PORT DIR: start a daemon, wait until it answers PING.
start_redis() {
	local port=$1 dir=$2
	redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
		--save '' --appendonly no >&2 || return 1
	for _ in $(seq 100); do
		if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

main() {
	install_redis
	local dir port pid
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tornago-redis.XXXXXX")
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		if start_redis "$port" "$dir"; then
			pid=$(cat "$dir/redis.pid")
			# Remove the directory once the server is gone.
			(while kill -0 "$pid" 2>/dev/null; do sleep 1; done; rm -rf "$dir") >/dev/null 2>&1 </dev/null &
			disown
			log "redis-server $(redis-server --version | awk '{print $3}') pid $pid on 127.0.0.1:$port"
			TORNAGO_REDIS_ADDR=127.0.0.1:$port
			TORNAGO_REDIS_PID=$pid
			return 0
		fi
		log "attempt $attempt on port $port failed:"
		tail -n 5 "$dir/redis.log" >&2 2>/dev/null || true
		[[ -f $dir/redis.pid ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
		rm -f "$dir/redis.pid"
	done
	rm -rf "$dir"
	log "could not start redis-server"
	return 1
}

main
echo "TORNAGO_REDIS_ADDR=$TORNAGO_REDIS_ADDR"
echo "TORNAGO_REDIS_PID=$TORNAGO_REDIS_PID"
