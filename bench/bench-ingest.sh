#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench-ingest.sh - LMTP ingest throughput: Postfix's smtp-source speaking
# LMTP with 10 parallel sessions, against bounced (every 250 sent after a
# durable commit, synchronous=FULL, group commit) and, in the same run,
# against smtp-sink as a no-op LMTP server.  Prints messages/s of each and
# the ratio bounced/smtp-sink, then checks that bounced committed every
# message it acknowledged.
#
#   bench/bench-ingest.sh           (after ninja -C build)
#   N=20000 ROUNDS=5 bench/bench-ingest.sh
#
# Two runs each: a new connection per message (smtp-source's default, the
# command of the issue) and -d (messages over reused connections, as
# Postfix's LMTP client does).  smtp-source's messages are small and not
# bounces (each distinct, so none is deduplicated): parsing a real DSN adds
# ~0.1 ms per message on the event loop.
set -eu
cd "$(dirname "$0")/.."
N=${N:-5000}
SESSIONS=${SESSIONS:-10}
ROUNDS=${ROUNDS:-3}

command -v smtp-source >/dev/null 2>&1 || { echo "bench-ingest: smtp-source (postfix) not installed"; exit 77; }
bench=bench-ingest
. bench/bench-common.sh

now() { date +%s.%N; }

echo "# bench-ingest: $N messages, $SESSIONS sessions, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
mkdir "$tmp/b"
bench_bg "$BOUNCED_BIN" --dir "$tmp/b" >"$tmp/bounced.log" 2>&1
wait_sock "$tmp/b/lmtp.sock"
if [ "$(id -u)" = 0 ]; then
	bench_bg smtp-sink -u nobody -L unix:"$tmp/sink.sock" 256
else
	bench_bg smtp-sink -L unix:"$tmp/sink.sock" 256
fi
wait_sock "$tmp/sink.sock"

rate() {   # label socket [extra smtp-source options]
	label=$1
	sock=$2
	shift 2
	t0=$(now)
	smtp-source "$@" -L -s "$SESSIONS" -m "$N" -f "" -t bounces@bounce.test unix:"$sock"
	t1=$(now)
	echo "scale=1; $N / ($t1 - $t0)" | bc
}

# ROUNDS alternating runs per mode; the medians are compared (a shared
# machine makes single runs noisy)
total=0
for mode in "" "-d"; do
	: >"$tmp/sink"
	: >"$tmp/bounced"
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		i=$((i + 1))
		rate sink "$tmp/sink.sock" $mode >>"$tmp/sink"
		rate bounced "$tmp/b/lmtp.sock" $mode >>"$tmp/bounced"
		total=$((total + N))
	done
	sink=$(median <"$tmp/sink")
	bounced=$(median <"$tmp/bounced")
	echo "smtp-source -L -s $SESSIONS -m $N -f \"\" -t bounces@bounce.test $mode:" \
		"smtp-sink ${sink} msg/s, bounced ${bounced} msg/s, ratio $(echo "scale=2; $bounced / $sink" | bc)" \
		"(medians of $ROUNDS; bounced runs: $(tr '\n' ' ' <"$tmp/bounced"))"
done

# every 250 was a commit: the store has them all
python3 - "$tmp/b/admin.sock" "$total" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"STATS\n")
st = {}
for l in s.makefile("rb"):
    l = l.decode().strip()
    if not l.startswith("+"):
        break
    for kv in l.split()[1:]:
        k, _, v = kv.partition("=")
        st[k] = v
want = int(sys.argv[2])
print("bounced: bounces=%s committed=%s failed=%s commits=%s (%.1f messages per commit, max %s)"
      % (st["bounces"], st["committed_bounces"], st["commit_failures"], st["commits"],
         int(st["committed_bounces"]) / max(1, int(st["commits"])), st["max_batch"]))
if int(st["bounces"]) != want or int(st["committed_bounces"]) != want or st["bounces_failed"] != "0":
    sys.exit("bench-ingest: expected %d messages stored" % want)
PY
