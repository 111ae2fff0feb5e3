#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench-query.sh - "may I send to X?" under load: bounced's query socket
# against redis-server on a Unix socket, with the same C client
# (bench/bench-query.c), both holding KEYS addresses (default 1,000,000;
# half of the queried addresses are stored).  Prints requests/s and latency
# for 50 connections lock-step and with 16 requests in flight each, the
# ratio bounced/Redis, and bounced's peak RSS after 100 clients.
#
#   bench/bench-query.sh            (after ninja -C build)
#   KEYS=100000 SECS=5 bench/bench-query.sh
#
# Environment: BOUNCED_BIN, BENCH_QUERY (default build/...), KEYS, SECS
# (seconds per run, default 10), ROUNDS (3: alternating runs, medians
# compared), CONNS (50), RSS_CONNS (100).
# The figures are rough on a shared machine: client and servers share the CPUs.
set -eu
cd "$(dirname "$0")/.."
BENCH_QUERY=${BENCH_QUERY:-build/bench/bench-query}
KEYS=${KEYS:-1000000}
SECS=${SECS:-10}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
RSS_CONNS=${RSS_CONNS:-100}

bench=bench-query
. bench/bench-common.sh
rpid=""

echo "# bench-query: $KEYS addresses, $SECS s per run, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# --- bounced, filled through its admin IMPORT path ------------------------
mkdir "$tmp/b"
bench_bounced "$tmp/b" "$tmp/bounced.log"
bpid=$!
t0=$(date +%s.%N)
bench_import "$tmp/b/admin.sock" "$KEYS"
t1=$(date +%s.%N)
echo "bounced: imported $KEYS addresses in $(echo "$t1 - $t0" | bc) s (admin IMPORT, 1000 per commit); RSS $(rss $bpid) KiB, peak $(hwm $bpid) KiB (the index doubles as it grows)"
# measure a daemon started on the filled store, as in production
bench_stop "$bpid"
t0=$(date +%s.%N)
bench_bg "$BOUNCED_BIN" --dir "$tmp/b" >>"$tmp/bounced.log" 2>&1
bpid=$!
while ! grep -q "index_entries=$KEYS " "$tmp/bounced.log"; do
	kill -0 "$bpid" 2>/dev/null || { echo "bench-query: bounced died" >&2; exit 1; }
	sleep 0.05
done
t1=$(date +%s.%N)
echo "bounced: restarted with $KEYS addresses in $(echo "$t1 - $t0" | bc) s; RSS $(rss $bpid) KiB"

# --- redis-server on a Unix socket, no persistence ------------------------
# The benchmark installs its own Redis (./dev test does not: no test uses
# it); SKIP_INSTALL=1 does without.
if ! command -v redis-server >/dev/null 2>&1 && [ "${SKIP_INSTALL:-0}" != 1 ] &&
	[ "$(id -u)" = 0 ]; then
	echo "bench-query: installing redis-server" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		redis-server >&2 || true
fi
if command -v redis-server >/dev/null 2>&1; then
	bench_bg redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --save "" \
		--appendonly no --daemonize no >"$tmp/redis.log" 2>&1
	rpid=$!
	wait_sock "$tmp/redis.sock"
	python3 - "$KEYS" <<'PY' | redis-cli -s "$tmp/redis.sock" --pipe >/dev/null
import sys
out = sys.stdout.buffer
n = int(sys.argv[1])
for lo in range(0, n, 100000):
    out.write(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$4\r\nhard\r\n" % (len(k), k)
                       for k in (b"user%d@bench.test" % i for i in range(lo, min(n, lo + 100000)))))
PY
	echo "redis: $(redis-cli -s "$tmp/redis.sock" dbsize) keys; RSS $(rss $rpid) KiB"
else
	echo "redis-server not installed: bounced figures only"
fi

run() {
	"$BENCH_QUERY" -s "$1" -P "$2" -c "$3" -d "$4" -t "$SECS" -k "$KEYS"
}
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# Runs alternate between the servers, ROUNDS times, and the medians are
# compared: on a shared machine one run alone says little.
for depth in 1 16; do
	: >"$tmp/runs"
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		i=$((i + 1))
		r=$(run "$tmp/b/query.sock" bounced "$CONNS" "$depth"); echo "$r"; echo "$r" >>"$tmp/runs"
		if [ -n "$rpid" ]; then
			r=$(run "$tmp/redis.sock" redis-exists "$CONNS" "$depth"); echo "$r"; echo "$r" >>"$tmp/runs"
			r=$(run "$tmp/redis.sock" redis-get "$CONNS" "$depth"); echo "$r"; echo "$r" >>"$tmp/runs"
		fi
	done
	for proto in bounced redis-exists redis-get; do
		grep -q "proto=$proto " "$tmp/runs" || continue
		grep "proto=$proto " "$tmp/runs" >"$tmp/p"
		rps=$(while read -r l; do field "$l" rps; done <"$tmp/p" | median)
		p50=$(while read -r l; do field "$l" p50_us; done <"$tmp/p" | median)
		p99=$(while read -r l; do field "$l" p99_us; done <"$tmp/p" | median)
		echo "summary conns=$CONNS depth=$depth proto=$proto median_rps=$rps median_p50_us=$p50 median_p99_us=$p99"
		eval "rps_$(echo $proto | tr - _)=$rps"
	done
	if [ -n "$rpid" ]; then
		echo "ratio conns=$CONNS depth=$depth: bounced/redis-exists=$(echo "scale=2; $rps_bounced / $rps_redis_exists" | bc)" \
			"bounced/redis-get=$(echo "scale=2; $rps_bounced / $rps_redis_get" | bc)"
	fi
done

# --- peak memory with RSS_CONNS clients -----------------------------------
b=$(run "$tmp/b/query.sock" bounced "$RSS_CONNS" 1)
echo "$b"
echo "bounced peak RSS (VmHWM) with $KEYS addresses and $RSS_CONNS clients: $(hwm $bpid) KiB ($(echo "scale=1; $(hwm $bpid) / 1024" | bc) MiB); now $(rss $bpid) KiB"
[ -n "$rpid" ] && echo "redis peak RSS (VmHWM): $(hwm $rpid) KiB"
printf 'STATS\n' | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
f = s.makefile("rb")
for l in f:
    l = l.decode().strip()
    if "index_entries" in l: print("bounced index:", l[2:])
    if not l.startswith("+"): break' "$tmp/b/admin.sock"
