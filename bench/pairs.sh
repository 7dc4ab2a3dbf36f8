#!/usr/bin/env bash
# Compares two server binaries run at the same time: both pinned to CPU 0,
# a load generator for each pinned to CPU 1, started together with the
# same scenario, so that both see the same machine (this one's speed moves
# by 20-50 % within minutes, which alternating runs only average out).
# Prints, per round, each server's work per server CPU-second and B ÷ A;
# the order in which the two start alternates between rounds.
#
#   bench/pairs.sh BIN_A BIN_B [ROUNDS] [LOAD ARGS...]
#   bench/pairs.sh bench/bin/gorilla /tmp/echo-new 6
#   BFLAGS=-core bench/pairs.sh bench/bin/gorilla /tmp/echo-new 6
#   bench/pairs.sh /tmp/echo-old /tmp/echo-new 6 -mode echo -size 64 -duration 4s
#
# LOAD ARGS default to "-mode handshake-close -count 20000". AFLAGS and
# BFLAGS are extra flags for each server (examples/echo's -core, -hub).
# Running at once, the two share the CPU's caches, which favours the
# smaller program; an identical build against itself measured 0.94-0.98
# here. Use it for two builds of one server; across programs, say so.
set -euo pipefail
cd "$(dirname "$0")"

if [ $# -lt 2 ]; then
	sed -n '2,18p' "$0"
	exit 2
fi
A=$1 B=$2 ROUNDS=${3:-6}
shift $(($# < 3 ? $# : 3))
LOADARGS=("$@")
[ ${#LOADARGS[@]} -gt 0 ] || LOADARGS=(-mode handshake-close -count 20000)
[ -x bin/load ] || go build -o bin/ ./load

tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# serve BIN FLAGS NAME: starts BIN on CPU 0; its pid goes to pids, its
# address to $tmp/NAME.addr.
serve() {
	local out=$tmp/$3.out
	# shellcheck disable=SC2086 # FLAGS are words
	taskset -c 0 "$1" $2 -addr 127.0.0.1:0 >"$out" 2>/dev/null &
	pids+=($!)
	echo $! >"$tmp/$3.pid"
}

# addr NAME: waits for the server to print its address.
addr() {
	for _ in $(seq 100); do
		local a
		a=$(sed -n 's/^listening on //p' "$tmp/$1.out")
		if [ -n "$a" ]; then
			echo "$a"
			return
		fi
		sleep 0.1
	done
	echo "server $1 did not start" >&2
	exit 1
}

perCPU() { tail -1 "$1" | sed -n 's/.*"per_cpu_second":\([0-9.e+]*\).*/\1/p'; }

for round in $(seq "$ROUNDS"); do
	pids=()
	if [ $((round % 2)) = 1 ]; then order=(a b); else order=(b a); fi
	for n in "${order[@]}"; do
		if [ "$n" = a ]; then serve "$A" "${AFLAGS:-}" a; else serve "$B" "${BFLAGS:-}" b; fi
	done
	loads=()
	for n in "${order[@]}"; do
		taskset -c 1 bin/load -pid "$(cat "$tmp/$n.pid")" -server "$n" -url "ws://$(addr "$n")" \
			-out "$tmp/$n.jsonl" "${LOADARGS[@]}" >/dev/null 2>&1 &
		loads+=($!)
	done
	wait "${loads[@]}"
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
	a=$(perCPU "$tmp/a.jsonl")
	b=$(perCPU "$tmp/b.jsonl")
	awk -v r="$round" -v a="$a" -v b="$b" 'BEGIN { printf "round %d: A %.0f, B %.0f per server CPU-s, B/A %.3f\n", r, a, b, b / a }'
done
