#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bounced-check.sh - "may I send to X?" from a shell script, over bounced's
# query socket (bounced/README-protocol.md), with socat.
#
#   bounced-check.sh [-s SOCKET] ADDRESS...
#
# One line per address, in order:
#   ADDRESS ok
#   ADDRESS suppressed CAUSE REASON SINCE [until=T] [entry=domain]
#   ADDRESS error TEXT                  (bounced could not read the address)
# Exit status: 0 every address may be sent to, 1 one is suppressed,
# 2 one is malformed (ERR) or usage, 3 bounced cannot be reached or broke
# the connection (nothing is known: do not treat it as "ok" blindly).
# All addresses go in one connection, pipelined.
#
#   if bounced-check.sh "$rcpt" >/dev/null; then sendmail ...; fi
#
# Environment: BOUNCED_QUERY_SOCKET (default /run/bounced/query.sock).
set -u

sock=${BOUNCED_QUERY_SOCKET:-/run/bounced/query.sock}
if [ "${1:-}" = "-s" ]; then
	[ $# -ge 2 ] || { echo "usage: $0 [-s SOCKET] ADDRESS..." >&2; exit 2; }
	sock=$2
	shift 2
fi
if [ $# -eq 0 ]; then
	echo "usage: $0 [-s SOCKET] ADDRESS..." >&2
	exit 2
fi

# A request is one line: an address holding a line break, a control
# character or nothing at all is refused here, never sent.
nl='
'
cr=$(printf '\r')
tab=$(printf '\t')
req=""
for a in "$@"; do
	case $a in
	"" | *"$nl"* | *"$cr"* | *"$tab"*)
		echo "$0: refusing an empty address or one with a line break or tab" >&2
		exit 2 ;;
	esac
	req="${req}CHECK $a$nl"
done

if [ ! -S "$sock" ]; then
	echo "$0: bounced is not running: no socket $sock" >&2
	exit 3
fi
# -t: wait up to 5 s for the replies after our last request; -T: give up on
# a silent daemon after 5 s.
if ! command -v socat >/dev/null 2>&1; then
	echo "$0: needs socat (apt-get install socat)" >&2
	exit 3
fi
errf=$(mktemp) || exit 3
trap 'rm -f "$errf"' EXIT
replies=$(printf '%s' "$req" | socat -t 5 -T 5 - "UNIX-CONNECT:$sock" 2>"$errf") || {
	echo "$0: cannot query bounced on $sock: $(tail -n 1 "$errf")" >&2
	exit 3
}

# the replies, in order, one per address ($@ is consumed as they come)
status=0
while IFS= read -r line; do
	[ $# -gt 0 ] || break
	a=$1
	shift
	case $line in
	OK)
		echo "$a ok" ;;
	"SUPPRESSED "*)
		echo "$a suppressed ${line#SUPPRESSED }"
		[ $status -lt 1 ] && status=1 ;;
	"ERR "*)
		echo "$a error ${line#ERR }"
		[ $status -lt 2 ] && status=2 ;;
	*)
		echo "$0: unexpected answer for $a from bounced: \"$line\"" >&2
		exit 3 ;;
	esac
done <<END_OF_REPLIES
$replies
END_OF_REPLIES
if [ $# -gt 0 ]; then
	echo "$0: bounced answered only part of the requests (none for $1)" >&2
	exit 3
fi
exit $status
