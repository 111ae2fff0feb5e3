# SPDX-License-Identifier: MIT
#
# bench-common.sh - sourced by the bench/*.sh drivers (after `set -eu` and
# the cd to the project root; $bench names the script in messages): the
# default $BOUNCED_BIN, a temp directory $tmp, removed on exit with every
# process started by bench_bg, starting bounced, waiting for a socket, a
# process's current and peak RSS, medians.

BOUNCED_BIN=${BOUNCED_BIN:-build/bounced/bounced}

tmp=$(mktemp -d)
chmod 755 "$tmp"
bench_pids=""

# Stops every process still running from bench_bg, then removes $tmp.  Each
# step may fail (a process already gone, killed by its signal): the trap
# runs under set -e, so none may stop the cleanup.
bench_cleanup() {
	for p in $bench_pids; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap bench_cleanup EXIT INT TERM

# bench_bg CMD [ARG...]: runs CMD in the background (redirect the call to
# redirect its output), stopped at exit; $! is its pid.
bench_bg() {
	"$@" &
	bench_pids="$bench_pids $!"
}

# bench_stop PID: stops a process started by bench_bg before the end.
bench_stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	bench_pids=$(echo "$bench_pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# wait_sock PATH: until the Unix socket PATH exists (10 s at most).
wait_sock() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && { echo "$bench: $1 did not appear" >&2; exit 1; }
		sleep 0.05
	done
}

# bench_bounced DIR LOG: starts $BOUNCED_BIN --dir DIR with bench_bg, its
# output to LOG, and waits for its admin socket; $! is its pid.
bench_bounced() {
	bench_bg "$BOUNCED_BIN" --dir "$1" >"$2" 2>&1
	wait_sock "$1/admin.sock"
}

# Peak (VmHWM) and current (VmRSS) resident set of a process, in KiB.
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# Resets VmHWM to the current RSS (Linux >= 4.0), so the next read is the peak of one phase.
reset_hwm() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || true; }

# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# bench_import ADMIN_SOCKET N: suppresses user0..user<N-1>@bench.test through
# the admin IMPORT path (what bench-query -k N asks about: half are stored).
bench_import() {
python3 - "$1" "$2" <<'PY'
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rb")
s.sendall(b"IMPORT source=bench\n")
assert f.readline() == b"OK send\n"
chunk = 50000
for lo in range(0, n, chunk):
    s.sendall("".join("+ target=user%d@bench.test cause=hard reason=userunknown\n" % i
                      for i in range(lo, min(n, lo + chunk))).encode())
s.sendall(b".\n")
line = f.readline().decode().strip()
if not line.startswith("OK imported=%d " % n):
    sys.exit("import failed: " + line)
PY
}
