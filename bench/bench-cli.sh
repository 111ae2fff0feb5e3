#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench-cli.sh - bouncectl export and import at scale (default 1,000,000
# entries): wall time, rows/s and peak RSS of bouncectl (/usr/bin/time -v)
# and of bounced (VmHWM, reset between phases through /proc/PID/clear_refs),
# then the round trip: the export imported into a fresh bounced and exported
# again must be byte-identical.
#
#   bench/bench-cli.sh              (after ninja -C build)
#   N=100000 bench/bench-cli.sh
#
# Environment: BOUNCED_BIN, BOUNCECTL_BIN (default build/...), N.
# The figures are rough on a shared machine: bouncectl, bounced and SQLite's
# fsyncs share the CPUs and the disk.
set -eu
cd "$(dirname "$0")/.."
BOUNCECTL_BIN=${BOUNCECTL_BIN:-build/tools/bouncectl}
N=${N:-1000000}

bench=bench-cli
. bench/bench-common.sh

# Runs bouncectl under /usr/bin/time -v; sets secs and kib.
timed() {
	out=$1
	shift
	/usr/bin/time -v -o "$tmp/time" "$BOUNCECTL_BIN" "$@" >"$out" 2>"$tmp/stderr" || {
		echo "bench-cli: bouncectl $* failed:" >&2
		cat "$tmp/stderr" "$tmp/time" >&2
		exit 1
	}
	secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
	    for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$tmp/time")
	kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time")
}

line() {
	# what, rows, seconds, bouncectl KiB, bounced KiB
	awk -v w="$1" -v n="$2" -v s="$3" -v c="$4" -v d="$5" 'BEGIN {
	    printf "%-34s %9d rows %7.2f s %9.0f rows/s   bouncectl %6.1f MiB   bounced %6.1f MiB\n",
	        w, n, s, (s > 0 ? n / s : 0), c / 1024, d / 1024 }'
}

echo "# bench-cli: $N entries, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# --- the input: a bouncectl CSV of every class, with statuses and expiries ---
awk -v n="$N" 'BEGIN {
	split("hard soft complaint manual import", cl, " ")
	split("userunknown mailboxfull feedback hostunknown undefined", rs, " ")
	split("lmtp lmtp lmtp manual import", src, " ")
	print "address,class,reason,status,since,until,source"
	for (i = 0; i < n; i++) {
		k = i % 5 + 1
		st = k == 1 ? "5.1.1" : (k == 2 ? "4.2.2" : "")
		un = i % 3 ? "" : sprintf("2031-%02d-01T00:00:00Z", 1 + i % 12)
		printf "user%07d@d%04d.example,%s,%s,%s,2024-%02d-%02dT%02d:%02d:%02dZ,%s,%s\n",
		    i, i % 9973, cl[k], rs[k], st, 1 + i % 12, 1 + i % 28, i % 24, i % 60,
		    (i * 7) % 60, un, src[k]
	}
}' >"$tmp/in.csv"
echo "# input: $(wc -c <"$tmp/in.csv") bytes"

mkdir "$tmp/a" "$tmp/b"
bench_bounced "$tmp/a" "$tmp/a.log"
apid=$!
base_a=$(rss "$apid")

reset_hwm "$apid"
timed "$tmp/import.out" import "$tmp/in.csv" --dir "$tmp/a" --no-progress
line "import (CSV, $N)" "$N" "$secs" "$kib" "$(hwm "$apid")"

reset_hwm "$apid"
timed "$tmp/a.csv" export --dir "$tmp/a"
line "export csv" "$N" "$secs" "$kib" "$(hwm "$apid")"
rows=$(($(wc -l <"$tmp/a.csv") - 1))
[ "$rows" -eq "$N" ] || { echo "bench-cli: export has $rows rows, want $N" >&2; exit 1; }

reset_hwm "$apid"
timed "$tmp/a.ndjson" export --dir "$tmp/a" --format ndjson
line "export ndjson" "$N" "$secs" "$kib" "$(hwm "$apid")"

reset_hwm "$apid"
timed "$tmp/a.json" export --dir "$tmp/a" --format json
line "export json" "$N" "$secs" "$kib" "$(hwm "$apid")"

reset_hwm "$apid"
timed "$tmp/list.out" list --dir "$tmp/a" --all --class hard --domain d0042.example
line "list --all (filtered: hard, 1 domain)" "$(($(wc -l <"$tmp/list.out") - 1))" "$secs" \
    "$kib" "$(hwm "$apid")"
echo "# bounced A: RSS after start $(awk -v k="$base_a" 'BEGIN { printf "%.1f", k / 1024 }') MiB," \
    "now $(awk -v k="$(rss "$apid")" 'BEGIN { printf "%.1f", k / 1024 }') MiB"

# --- round trip: the export into a fresh bounced, exported again ----------
cp "$tmp/a/secret" "$tmp/b/secret"    # erased entries need the same key
bench_bounced "$tmp/b" "$tmp/b.log"
bpid=$!
reset_hwm "$bpid"
timed "$tmp/import2.out" import "$tmp/a.csv" --dir "$tmp/b" --no-progress
line "import of the export (fresh db)" "$N" "$secs" "$kib" "$(hwm "$bpid")"
reset_hwm "$bpid"
timed "$tmp/b.csv" export --dir "$tmp/b"
line "export csv again" "$N" "$secs" "$kib" "$(hwm "$bpid")"
if cmp -s "$tmp/a.csv" "$tmp/b.csv"; then
	echo "round trip: export -> import -> export byte-identical ($(wc -c <"$tmp/a.csv") bytes," \
	    "sha256 $(sha256sum <"$tmp/a.csv" | cut -c1-16))"
else
	echo "round trip: exports DIFFER" >&2
	cmp "$tmp/a.csv" "$tmp/b.csv" >&2 || true
	exit 1
fi
echo "# database: $(du -k "$tmp/a/bounced.db" | cut -f1) KiB for $N entries"
