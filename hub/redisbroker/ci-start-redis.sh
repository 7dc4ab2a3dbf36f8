#!/usr/bin/env bash
# ci-start-redis.sh: start a throwaway Redis server and a throwaway Redis
# Cluster for the hub/redisbroker tests and print where they are.
#
# It installs the Debian packages redis-server and redis-tools (redis-cli)
# if they are missing, starts a server as a background daemon on a free
# loopback port with a temporary directory and no persistence (no RDB
# snapshots, no AOF), then three more in cluster mode joined into a
# cluster of three masters without replicas (redis-cli --cluster create),
# waits until they answer, and prints shell assignments on stdout:
#
#	TORNAGO_REDIS_ADDR=127.0.0.1:PORT
#	TORNAGO_REDIS_PID=PID
#	TORNAGO_REDIS_CLUSTER_ADDRS=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#	TORNAGO_REDIS_PIDS="PID PID1 PID2 PID3"
#
# so that a CI script can do
#
#	eval "$(hub/redisbroker/ci-start-redis.sh)"
#	export TORNAGO_REDIS_ADDR TORNAGO_REDIS_CLUSTER_ADDRS
#	trap 'kill $TORNAGO_REDIS_PIDS' EXIT
#
# Progress goes to stderr. The servers stop with `kill $TORNAGO_REDIS_PIDS`;
# each one's temporary directory is removed when it exits.
set -euo pipefail

log() { echo "ci-start-redis: $*" >&2; }

install_redis() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	log "installing redis-server"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y --no-install-recommends redis-server redis-tools >&2 ||
		{ "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y --no-install-recommends redis-server redis-tools >&2; }
}

# used_ports prints, one per line, every local TCP port of this host's
# network namespace in any state (listening, connected, TIME_WAIT).
used_ports() {
	local f _ local_addr
	for f in /proc/net/tcp /proc/net/tcp6; do
		[[ -r $f ]] || continue
		while read -r _ local_addr _; do
			[[ $local_addr == *:* ]] && echo $((16#${local_addr##*:}))
		done < <(tail -n +2 "$f")
	done
}

# free_port prints a loopback TCP port that no socket uses now, taken
# below the kernel's ephemeral range (net.ipv4.ip_local_port_range): a
# port in that range that is free now can become the local end of any
# outgoing connection (the cluster's own bus links among them) before
# redis-server binds it, and a bind that fails then aborts the server.
# start_one still retries on another port if one is taken first.
free_port() {
	local low=32768 high used p
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	high=$((low - 1))
	((high > 11000)) || high=32767
	used=" $(used_ports | tr '\n' ' ') "
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % (high - 10000)))
		if [[ $used != *" $p "* ]]; then
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# start_redis PORT DIR [ARG...]: start a daemon, wait until it answers PING;
# fail at once if the server exits first (a port taken meanwhile).
start_redis() {
	local port=$1 dir=$2 pid=
	shift 2
	redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
		--save '' --appendonly no "$@" >&2 || return 1
	for _ in $(seq 200); do
		grep -q 'aborting' "$dir/redis.log" 2>/dev/null && return 1
		[[ -n $pid ]] || pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
		[[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || return 1
		if [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# start_one [cluster]: start a server on a free port with a directory of
# its own (in cluster mode, with a free cluster bus port too, both picked
# again on each attempt); sets PORT and PID.
start_one() {
	local dir args=()
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tornago-redis.XXXXXX")
	for attempt in 1 2 3 4 5; do
		PORT=$(free_port)
		args=()
		if [[ ${1:-} == cluster ]]; then
			args=(--cluster-enabled yes --cluster-config-file nodes.conf
				--cluster-port "$(free_port)" --cluster-node-timeout 1000
				--cluster-require-full-coverage no)
		fi
		if start_redis "$PORT" "$dir" "${args[@]}"; then
			PID=$(cat "$dir/redis.pid")
			# Remove the directory once the server is gone.
			(while kill -0 "$PID" 2>/dev/null; do sleep 1; done; rm -rf "$dir") >/dev/null 2>&1 </dev/null &
			disown
			log "redis-server $(redis-server --version | awk '{print $3}') pid $PID on 127.0.0.1:$PORT ${args[*]}"
			return 0
		fi
		log "attempt $attempt on port $PORT failed:"
		tail -n 5 "$dir/redis.log" >&2 2>/dev/null || true
		[[ -f $dir/redis.pid ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
		rm -f "$dir/redis.pid" "$dir/redis.log" "$dir/nodes.conf"
	done
	rm -rf "$dir"
	log "could not start redis-server"
	return 1
}

# start_cluster N: start N cluster-mode servers (each with a free bus port)
# and join them as N masters; sets CLUSTER_ADDRS and CLUSTER_PIDS.
start_cluster() {
	local addrs=() i
	CLUSTER_PIDS=()
	for ((i = 0; i < $1; i++)); do
		start_one cluster || return 1
		addrs+=("127.0.0.1:$PORT")
		CLUSTER_PIDS+=("$PID")
	done
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >&2 || return 1
	for a in "${addrs[@]}"; do
		for _ in $(seq 200); do
			redis-cli -h "${a%:*}" -p "${a#*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
			sleep 0.05
		done
	done
	CLUSTER_ADDRS=$(
		IFS=,
		echo "${addrs[*]}"
	)
	log "Redis Cluster of $1 masters on $CLUSTER_ADDRS"
}

main() {
	install_redis
	start_one
	TORNAGO_REDIS_ADDR=127.0.0.1:$PORT
	TORNAGO_REDIS_PIDS=$PID
	TORNAGO_REDIS_PID=$PID
	start_cluster 3 || { kill $TORNAGO_REDIS_PIDS "${CLUSTER_PIDS[@]}" 2>/dev/null; return 1; }
	TORNAGO_REDIS_CLUSTER_ADDRS=$CLUSTER_ADDRS
	TORNAGO_REDIS_PIDS="$TORNAGO_REDIS_PIDS ${CLUSTER_PIDS[*]}"
}

main
echo "TORNAGO_REDIS_ADDR=$TORNAGO_REDIS_ADDR"
echo "TORNAGO_REDIS_PID=$TORNAGO_REDIS_PID"
echo "TORNAGO_REDIS_CLUSTER_ADDRS=$TORNAGO_REDIS_CLUSTER_ADDRS"
echo "TORNAGO_REDIS_PIDS=\"$TORNAGO_REDIS_PIDS\""
