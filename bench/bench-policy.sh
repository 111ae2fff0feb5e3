#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench-policy.sh - Postfix's two ways of asking bounced, in one run: the
# policy delegation service (check_policy_service, a Postfix 3.7-shaped
# request of about 620 bytes) and the socketmap ("suppressed <address>"),
# on the same daemon holding KEYS addresses, with the same C client
# (bench/bench-query.c -P policy|socketmap).  Postfix asks lock-step (one
# request per connection at a time), so that is what is measured: CONNS
# connections (smtpd processes), ROUNDS alternating runs of SECS seconds.
# Prints requests/s, p50 and p99 of each run and the medians side by side.
#
#   bench/bench-policy.sh            (after ninja -C build)
#   KEYS=100000 SECS=5 CONNS=20 bench/bench-policy.sh
#
# The figures are rough on a shared machine: client and server share the CPUs.
set -eu
cd "$(dirname "$0")/.."
BENCH_QUERY=${BENCH_QUERY:-build/bench/bench-query}
KEYS=${KEYS:-100000}
SECS=${SECS:-5}
CONNS=${CONNS:-20}
ROUNDS=${ROUNDS:-3}

bench=bench-policy
. bench/bench-common.sh

echo "# bench-policy: $KEYS addresses, $CONNS connections lock-step, $SECS s per run, $ROUNDS rounds, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
mkdir "$tmp/b"
bench_bounced "$tmp/b" "$tmp/bounced.log"
bpid=$!
bench_import "$tmp/b/admin.sock" "$KEYS"
wait_sock "$tmp/b/policy.sock"
: >"$tmp/policy.txt"
: >"$tmp/socketmap.txt"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for proto in policy socketmap; do
        sock=$tmp/b/$proto.sock
        line=$("$BENCH_QUERY" -s "$sock" -P "$proto" -c "$CONNS" -d 1 -t "$SECS" -w 1 -k "$KEYS" -q)
        echo "round $r: $line"
        echo "$line" >>"$tmp/$proto.txt"
    done
    r=$((r + 1))
done
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }   # key $2 of every line of file $1
printf '%-10s %10s %8s %8s\n' "" rps p50_us p99_us
for proto in policy socketmap; do
    printf '%-10s %10s %8s %8s\n' "$proto" "$(field "$tmp/$proto.txt" rps | median)" \
        "$(field "$tmp/$proto.txt" p50_us | median)" "$(field "$tmp/$proto.txt" p99_us | median)"
done
bench_stop "$bpid"
