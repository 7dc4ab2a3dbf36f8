#!/usr/bin/env bash
# Runs every BENCH.md scenario against tornago (examples/echo, default
# WebSocketHandler variant and -core) and every peer server in bench/,
# each server a fresh process pinned to CPU 0 with the load generator on
# CPU 1, and writes results/latest.md (tables, best round per cell) from
# results/raw.jsonl (one JSON line per run).
#
#   bench/run.sh                 # ROUNDS=2 (the default)
#   ROUNDS=1 SERVERS="tornago gorilla" bench/run.sh
#   KEEP=1 bench/run.sh          # add to the last run's results instead of starting over
#
# Needs Go, taskset (util-linux) and, for the Tornado column, Debian's
# python3-tornado under /usr/bin/python3 (the column is left out without it).
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-2}
SERVERS=${SERVERS:-"tornago tornago-core gorilla coder gws gobwas tornado tcp"}
ECHO_DURATION=${ECHO_DURATION:-3s}
BROADCAST_DURATION=${BROADCAST_DURATION:-3s}
SCALE_CONNS=${SCALE_CONNS:-19000} # idle scale check for tornago; 0 skips it
PYTHON=${PYTHON:-/usr/bin/python3}

mkdir -p bin results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
RAW=results/raw.jsonl
LOG=results/run.log
RUNS=results/runs.txt # one line per run that contributed to raw.jsonl
if [ "${KEEP:-0}" != 1 ]; then
	: >"$RAW"
	: >"$RUNS"
fi
: >"$LOG"

echo "building" | tee -a "$LOG"
go build -o bin/ ./load ./servers/...
(cd .. && go build -o bench/bin/tornago ./examples/echo)
commit=$(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C .. status --porcelain -- websocket ':(glob)*.go' 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
if ! "$PYTHON" -c 'import tornado' 2>/dev/null; then
	echo "no tornado module for $PYTHON: leaving the Tornado column out" | tee -a "$LOG"
	SERVERS=${SERVERS//tornado /}
	SERVERS=${SERVERS% tornado}
fi

SPID=
SADDR=
# start NAME: runs the server pinned to CPU 0 and waits for its address.
start() {
	local cmd
	case $1 in
	tornago) cmd=(bin/tornago -addr 127.0.0.1:0) ;;
	tornago-core) cmd=(bin/tornago -core -addr 127.0.0.1:0) ;;
	tornado) cmd=("$PYTHON" servers/tornado/server.py -addr 127.0.0.1:0) ;;
	*) cmd=("bin/$1" -addr 127.0.0.1:0) ;;
	esac
	: >"$tmp/out"
	taskset -c 0 "${cmd[@]}" >"$tmp/out" 2>>"$tmp/err.$1" &
	SPID=$!
	for _ in $(seq 100); do
		SADDR=$(sed -n 's/^listening on //p' "$tmp/out")
		[ -n "$SADDR" ] && return 0
		sleep 0.1
	done
	echo "$1 did not start" | tee -a "$LOG"
	cat "$tmp/err.$1" >>"$LOG"
	return 1
}

stop() {
	kill "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
}

# run NAME LOAD-ARGS...: one scenario against a fresh NAME server.
run() {
	local name=$1
	shift
	start "$name" || return 0
	local tcp=()
	[ "$name" = tcp ] && tcp=(-tcp)
	if ! taskset -c 1 bin/load -pid "$SPID" -server "$name" -url "ws://$SADDR" -out "$RAW" "${tcp[@]}" "$@" >>"$LOG" 2>&1; then
		echo "FAILED: $name $*" | tee -a "$LOG"
	fi
	stop
}

began=$(date -u +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
	for size in 64 4096 65536; do
		echo "round $round: echo $size B" | tee -a "$LOG"
		for s in $SERVERS; do run "$s" -mode echo -size "$size" -duration "$ECHO_DURATION"; done
	done
	echo "round $round: broadcast" | tee -a "$LOG"
	for s in $SERVERS; do
		[ "$s" = tcp ] || run "$s" -mode broadcast -duration "$BROADCAST_DURATION"
	done
	echo "round $round: idle" | tee -a "$LOG"
	for s in $SERVERS; do run "$s" -mode idle; done
	echo "round $round: handshakes" | tee -a "$LOG"
	for s in $SERVERS; do
		[ "$s" = tcp ] || run "$s" -mode handshake
	done
done
if [ "$SCALE_CONNS" -gt 0 ]; then
	echo "idle scale: $SCALE_CONNS connections" | tee -a "$LOG"
	for s in $SERVERS; do
		case $s in tornago | tornago-core | tcp) run "$s" -mode idle -conns "$SCALE_CONNS" ;; esac
	done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
took=$(($(date -u +%s) - began))
echo "$(date -u '+%Y-%m-%d %H:%M UTC'): $ROUNDS round(s) in ${took} s; tornago built at commit $commit, uncommitted changes then in websocket/ and the root package: ${dirty:-none}; load average (1, 5, 15 min) before $load_before, after $load_after" >>"$RUNS"

{
	echo "# Peer benchmarks: latest run"
	echo
	echo "- machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs; $(uname -sr); $(go version | cut -d' ' -f3-)"
	echo "- servers pinned to CPU 0, load generator to CPU 1; a fresh server per scenario"
	echo "- command: \`bench/run.sh\` (ROUNDS=$ROUNDS), then \`KEEP=1 bench/run.sh\` for each further run below"
	echo "- runs whose measurements are in results/raw.jsonl:"
	sed 's/^/  - /' "$RUNS"
	echo
	bin/load report -in "$RAW"
} >results/latest.md
cat "$tmp"/err.* >>"$LOG" 2>/dev/null || true
echo "wrote results/latest.md in ${took} s"
