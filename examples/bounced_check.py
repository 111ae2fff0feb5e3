#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bounced_check.py - "may I send to X?" from Python, over bounced's query
socket (bounced/README-protocol.md).  Standard library only; copy it into
your application or import it.

    from bounced_check import Bounced, BouncedUnavailable

    with Bounced() as b:                       # /run/bounced/query.sock
        for addr, v in b.check(["alice@example.com", "bob@example.net"]).items():
            if v.state != "ok":
                print("not sending to", addr, v)  # suppressed or error

    Bounced().may_send("alice@example.com")    # True / False

Verdict.state is "ok", "suppressed" (cause, reason, since, until, domain
are set) or "error" (the address was malformed: text says why).  When
bounced cannot be reached or breaks the connection, BouncedUnavailable is
raised: nothing is known then, and an application decides for itself
whether to send (bounces of a send made meanwhile still reach bounced).

As a command:  bounced_check.py [-s SOCKET] ADDRESS...
prints "ADDRESS ok" / "ADDRESS suppressed CAUSE REASON SINCE ..." /
"ADDRESS error TEXT" and exits 0 (all ok), 1 (one suppressed), 2 (one
malformed, or usage), 3 (bounced unreachable).
"""
import collections
import os
import socket
import sys

DEFAULT_SOCKET = os.environ.get("BOUNCED_QUERY_SOCKET", "/run/bounced/query.sock")

Verdict = collections.namedtuple("Verdict", "state cause reason since until domain text")


class BouncedUnavailable(Exception):
    """bounced could not be asked (no socket, refused, timeout, hang-up)."""


def parse_reply(line):
    """One reply line of the query protocol -> Verdict."""
    if line == "OK":
        return Verdict("ok", None, None, None, None, False, line)
    parts = line.split(" ")
    if parts[0] == "SUPPRESSED" and len(parts) >= 4:
        until = next((p[6:] for p in parts[4:] if p.startswith("until=")), None)
        return Verdict("suppressed", parts[1], parts[2], parts[3], until,
                       "entry=domain" in parts[4:], line)
    if parts[0] == "ERR":
        return Verdict("error", None, None, None, None, False, line[4:])
    raise BouncedUnavailable("unexpected reply from bounced: %r" % line[:200])


class Bounced:
    """One connection to the query socket; requests are pipelined."""

    def __init__(self, path=DEFAULT_SOCKET, timeout=5.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise BouncedUnavailable("cannot connect to %s: %s" % (path, e.strerror or e)) \
                from None
        self.buf = b""

    def _readline(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise BouncedUnavailable("reading from %s: %s" % (self.path, e)) from None
            if not chunk:
                raise BouncedUnavailable("bounced closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").rstrip("\r")

    def check(self, addresses, batch=256):
        """{address: Verdict} for every address, in one round trip per batch.
        An address with a line break or a control character is answered
        "error" here and never sent."""
        out = {}
        addresses = list(addresses)
        for i in range(0, len(addresses), batch):
            part = addresses[i:i + batch]
            sent = []
            req = []
            for a in part:
                if not a or any(ord(c) < 0x20 or ord(c) == 0x7f for c in a):
                    out[a] = Verdict("error", None, None, None, None, False,
                                     "refused by the client: empty, line break or control "
                                     "character")
                    continue
                sent.append(a)
                req.append("CHECK %s\n" % a)
            try:
                self.sock.sendall("".join(req).encode("utf-8"))
            except OSError as e:
                raise BouncedUnavailable("writing to %s: %s" % (self.path, e)) from None
            for a in sent:
                out[a] = parse_reply(self._readline())
        return out

    def may_send(self, address):
        """True when bounced answers OK for address."""
        return self.check([address])[address].state == "ok"

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def main(argv):
    args = argv[1:]
    path = DEFAULT_SOCKET
    if args[:1] == ["-s"] and len(args) >= 2:
        path, args = args[1], args[2:]
    if not args or args[0].startswith("-"):
        print("usage: bounced_check.py [-s SOCKET] ADDRESS...", file=sys.stderr)
        return 2
    try:
        with Bounced(path) as b:
            verdicts = b.check(args)
    except BouncedUnavailable as e:
        print("bounced_check.py: %s" % e, file=sys.stderr)
        return 3
    status = 0
    for a in args:
        v = verdicts[a]
        if v.state == "ok":
            print("%s ok" % a)
        elif v.state == "suppressed":
            print("%s suppressed %s" % (a, v.text[len("SUPPRESSED "):]))
            status = max(status, 1)
        else:
            print("%s error %s" % (a, v.text))
            status = max(status, 2)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
