#!/usr/bin/env bash
# Runs every BENCH.md scenario against tornago (examples/echo, default
# WebSocketHandler variant and -core) and every peer server in bench/,
# each server a fresh process pinned to CPU 0 with the load generator on
# CPU 1, and writes results/latest.md (tables: each cell's median over the
# rounds and its min-max spread) from results/raw.jsonl (one JSON line per
# run).
#
#   bench/run.sh                 # ROUNDS=3 (the default)
#   ROUNDS=1 SERVERS="tornago gorilla" bench/run.sh
#   KEEP=1 bench/run.sh          # add to the last run's results instead of starting over
#   ONLY="handshake-close chat" bench/run.sh   # some scenarios only
#
# Scenarios (ONLY picks among them): echo, broadcast, idle, handshake,
# handshake-close (a reconnect storm), chat (the hub room at scale),
# scale (idle at SCALE_CONNS, and with keepalive pings every SCALE_PING).
#
# Needs Go, taskset (util-linux) and, for the Tornado column, Debian's
# python3-tornado under /usr/bin/python3 (the column is left out without it).
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-"tornago tornago-core gorilla coder gws gobwas tornado tcp"}
ONLY=${ONLY:-"echo broadcast idle handshake handshake-close chat scale"}
ECHO_DURATION=${ECHO_DURATION:-3s}
BROADCAST_DURATION=${BROADCAST_DURATION:-3s}
HANDSHAKES=${HANDSHAKES:-5000} # per handshake and handshake-close run, at concurrency 32
SCALE_CONNS=${SCALE_CONNS:-19000} # idle at scale for tornago, tornago-core and plain TCP; 0 skips it
SCALE_PING=${SCALE_PING:-5s}      # and the handler's again with keepalive pings this often; 0 skips that
SCALE_SETTLE=${SCALE_SETTLE:-12s} # idle time before the memory is read, with pings (every connection pinged twice at 5s)
CHAT_CONNS=${CHAT_CONNS:-19000}   # chat room members (tornago -hub and gorilla's chat example); 0 skips it
CHAT_INTERVAL=${CHAT_INTERVAL:-10ms}
CHAT_DURATION=${CHAT_DURATION:-30s}
CHAT_WARMUP=${CHAT_WARMUP:-2s}
CHAT_DRAIN=${CHAT_DRAIN:-60s} # how long the last publish may take to reach every member
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
SPPROF= # the server's pprof URL, when it has one
# TFLAGS: extra flags for examples/echo (tornago, tornago-core) in the next run.
TFLAGS=
# start NAME: runs the server pinned to CPU 0 and waits for its address.
start() {
	local cmd
	case $1 in
	tornago) cmd=(bin/tornago $TFLAGS -addr 127.0.0.1:0) ;;
	tornago-core) cmd=(bin/tornago -core $TFLAGS -addr 127.0.0.1:0) ;;
	tornado) cmd=("$PYTHON" servers/tornado/server.py -addr 127.0.0.1:0) ;;
	*) cmd=("bin/$1" -addr 127.0.0.1:0) ;;
	esac
	: >"$tmp/out"
	: >"$tmp/err"
	taskset -c 0 "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" &
	SPID=$!
	for _ in $(seq 100); do
		SADDR=$(sed -n 's/^listening on //p' "$tmp/out")
		if [ -n "$SADDR" ]; then
			SPPROF=$(sed -n 's/.*msg=profiles url=\([^ ]*\).*/\1/p' "$tmp/err")
			return 0
		fi
		sleep 0.1
	done
	echo "$1 did not start" | tee -a "$LOG"
	cat "$tmp/err" >>"$LOG"
	return 1
}

stop() {
	kill "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	grep -v ' level=INFO ' "$tmp/err" >>"$tmp/err.$1" || true
}

# run NAME LOAD-ARGS...: one scenario against a fresh NAME server.
run() {
	local name=$1
	shift
	start "$name" || return 0
	local extra=()
	[ "$name" = tcp ] && extra=(-tcp)
	[ -n "$SPPROF" ] && extra+=(-pprof "$SPPROF")
	if ! taskset -c 1 bin/load -pid "$SPID" -server "$name" -url "ws://$SADDR" -out "$RAW" "${extra[@]}" "$@" >>"$LOG" 2>&1; then
		echo "FAILED: $name $TFLAGS $*" | tee -a "$LOG"
	fi
	stop "$name"
}

# want SCENARIO: whether ONLY includes it.
want() { [[ " $ONLY " == *" $1 "* ]]; }

began=$(date -u +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
	if want echo; then
		for size in 64 4096 65536; do
			echo "round $round: echo $size B" | tee -a "$LOG"
			for s in $SERVERS; do run "$s" -mode echo -size "$size" -duration "$ECHO_DURATION"; done
		done
	fi
	if want broadcast; then
		echo "round $round: broadcast" | tee -a "$LOG"
		for s in $SERVERS; do
			[ "$s" = tcp ] || run "$s" -mode broadcast -duration "$BROADCAST_DURATION"
		done
	fi
	if want idle; then
		echo "round $round: idle" | tee -a "$LOG"
		for s in $SERVERS; do run "$s" -mode idle; done
	fi
	if want handshake; then
		echo "round $round: handshakes (tornago's client)" | tee -a "$LOG"
		for s in $SERVERS; do
			[ "$s" = tcp ] || run "$s" -mode handshake -count "$HANDSHAKES"
		done
	fi
	if want handshake-close; then
		echo "round $round: handshakes + close (raw socket)" | tee -a "$LOG"
		for s in $SERVERS; do
			[ "$s" = tcp ] || run "$s" -mode handshake-close -count "$HANDSHAKES"
		done
	fi
	if want chat && [ "$CHAT_CONNS" -gt 0 ]; then
		echo "round $round: chat room of $CHAT_CONNS, a publish every $CHAT_INTERVAL for $CHAT_DURATION" | tee -a "$LOG"
		for s in $SERVERS; do
			case $s in
			tornago) TFLAGS=-hub run "$s" -mode chat -conns "$CHAT_CONNS" -interval "$CHAT_INTERVAL" -duration "$CHAT_DURATION" -warmup "$CHAT_WARMUP" -drain "$CHAT_DRAIN" ;;
			gorilla) run "$s" -mode chat -conns "$CHAT_CONNS" -interval "$CHAT_INTERVAL" -duration "$CHAT_DURATION" -warmup "$CHAT_WARMUP" -drain "$CHAT_DRAIN" ;;
			esac
		done
	fi
	if want scale && [ "$SCALE_CONNS" -gt 0 ]; then
		echo "round $round: idle at scale, $SCALE_CONNS connections" | tee -a "$LOG"
		for s in $SERVERS; do
			case $s in
			tornago | tornago-core) TFLAGS="-pprof 127.0.0.1:0" run "$s" -mode idle -conns "$SCALE_CONNS" ;;
			tcp) run "$s" -mode idle -conns "$SCALE_CONNS" ;;
			esac
		done
		if [ "$SCALE_PING" != 0 ]; then
			echo "round $round: idle at scale with pings every $SCALE_PING" | tee -a "$LOG"
			for s in $SERVERS; do
				case $s in
				tornago | tornago-core) TFLAGS="-ping $SCALE_PING -pprof 127.0.0.1:0" run "$s" -mode idle -conns "$SCALE_CONNS" -ping "$SCALE_PING" -settle "$SCALE_SETTLE" ;;
				esac
			done
		fi
	fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
took=$(($(date -u +%s) - began))
echo "$(date -u '+%Y-%m-%d %H:%M UTC'): $ROUNDS round(s) in ${took} s; tornago built at commit $commit, uncommitted changes then in websocket/ and the root package: ${dirty:-none}; load average (1, 5, 15 min) before $load_before, after $load_after" >>"$RUNS"

{
	echo "# Peer benchmarks: latest run"
	echo
	echo "- machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs; $(uname -sr); $(go version | cut -d' ' -f3-)"
	echo "- servers pinned to CPU 0, load generator to CPU 1; a fresh server per scenario"
	echo "- command: \`bench/run.sh\` (ROUNDS=$ROUNDS, HANDSHAKES=$HANDSHAKES, SCALE_CONNS=$SCALE_CONNS, SCALE_PING=$SCALE_PING, SCALE_SETTLE=$SCALE_SETTLE, CHAT_CONNS=$CHAT_CONNS, CHAT_INTERVAL=$CHAT_INTERVAL, CHAT_DURATION=$CHAT_DURATION, CHAT_DRAIN=$CHAT_DRAIN), then \`KEEP=1 bench/run.sh\` for each further run below"
	echo "- runs whose measurements are in results/raw.jsonl:"
	sed 's/^/  - /' "$RUNS"
	echo
	bin/load report -in "$RAW"
} >results/latest.md
cat "$tmp"/err.* >>"$LOG" 2>/dev/null || true
echo "wrote results/latest.md in ${took} s"
