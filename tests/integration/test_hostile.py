#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_hostile.py CASE - issue 6, hostile input and hostile clients, against a
real bounced on a temporary directory over its real sockets (one meson test
per case, suite integration):

  big_line          a 1 MB header line in a message, a 1 MB command line
  many_rcpts        10,000 RCPTs in one transaction (pipelined)
  deep_mime         MIME nesting 1,000 deep
  nul_bytes         NUL bytes in a message and in commands
  invalid_utf8      invalid UTF-8 in a message, its addresses and in queries
  huge_dsn          a DSN naming 100,000 recipients: what is stored, what is
                    reported, memory
  slowloris         an LMTP client that sends nothing (idle timeout), one that
                    trickles a byte at a time (evicted when slots run out)
  never_reads       LMTP and query clients that never read their replies
  evict_lmtp        every LMTP slot held: the longest-idle session between
                    transactions gives way, busy ones never do
  evict_query       the same for the query and socketmap sockets
  hostile_addresses quotes, SQL, shell metacharacters end to end: LMTP ->
                    CHECK, socketmap, bouncectl check/show/export, literally
  long_address      a 10 kB local part: stored raw, reported, never an entry;
                    ERR on CHECK, NOTFOUND on the socketmap, refused by admin

Figures (seconds, bytes, RSS) are printed for the record; the assertions are
on behaviour and generous bounds, never on speed.
"""
import csv
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bouncedtest import (Daemon, Lmtp, check, dot_stuff, dsn, fields,  # noqa: E402
                         lmtp_session, netstring, run_case, skip)

CTL = os.environ.get("BOUNCECTL_BIN", "")
WRAPPED = bool(os.environ.get("BOUNCED_WRAPPER"))   # valgrind: no RSS figures


def rss_kib(pid, key="VmRSS"):
    """VmRSS/VmHWM of a process in KiB (None when unknown)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def db_rows(d, sql, *args):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.state, "bounced.db"), uri=True,
                         timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def bounce_id(reply):
    """'250 2.0.0 <r> Ok: stored as bounce 7' -> 7."""
    return int(reply.rsplit(" ", 1)[1])


def ctl(d, *args, stdin=None):
    if not CTL or not os.access(CTL, os.X_OK):
        skip("BOUNCECTL_BIN is not set or not executable")
    p = subprocess.run([CTL, args[0], "--config", d.config] + list(args[1:]), input=stdin,
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def deliver_raw(c, data, rcpts=("bounces@bounce.test",)):
    """One transaction with data already dot-stuffed and CRLF-terminated."""
    check(c.cmd("MAIL FROM:<>")[0].startswith("250"), "MAIL")
    for r in rcpts:
        check(c.cmd("RCPT TO:<%s>" % r)[0].startswith("250"), "RCPT")
    check(c.cmd("DATA")[0].startswith("354"), "DATA")
    c.send(data + b".\r\n")
    return [c.reply()[0] for _ in rcpts]


def slow_session(d):
    """An LMTP session whose client waits long for a reply (valgrind is slow)."""
    c = Lmtp(d, timeout=900 if WRAPPED else 60)
    check(c.reply()[0].startswith("220 "), "greeting")
    check(c.cmd("LHLO test.client")[-1].startswith("250 "), "LHLO")
    return c


def still_serves(d, tag):
    """A new LMTP session stores a bounce and CHECK sees it."""
    addr = "alive-%s@remote.test" % tag
    c = lmtp_session(d)
    r = c.deliver(dsn(addr))
    c.close()
    check(r[0].startswith("250 2.0.0"), "%s: a new session is served: %r" % (tag, r))
    ans = d.check(addr)
    check(ans.startswith("SUPPRESSED hard"), "%s: CHECK %s: %r" % (tag, addr, ans))


# ---- cases ------------------------------------------------------------------

def case_big_line():
    """A 1 MB header line is a message like another (stored, parsed); a 1 MB
    command line is refused with 500 and the session goes on."""
    with Daemon() as d:
        d.start()
        c = slow_session(d)
        msg = dsn("bigline@remote.test", extra="X-Junk: " + "j" * (1 << 20) + "\n")
        t0 = time.monotonic()
        r = c.deliver(msg)
        print("1 MB header line: %s in %.2f s" % (r[0], time.monotonic() - t0))
        check(r[0].startswith("250 2.0.0"), r)
        check(d.check("bigline@remote.test").startswith("SUPPRESSED hard"), "parsed")
        raw = db_rows(d, "SELECT length(raw) FROM bounce WHERE id = ?", bounce_id(r[0]))
        check(raw and raw[0][0] > (1 << 20), "stored whole: %r" % raw)
        # a command line of 1 MB: 500 5.5.2, nothing held, the session continues
        c.send(b"NOOP " + b"x" * (1 << 20) + b"\r\n")
        check(c.reply()[0].startswith("500 5.5.2"), "long command")
        check(c.cmd("NOOP")[0].startswith("250"), "session goes on")
        if not WRAPPED:
            print("daemon VmHWM %s KiB" % rss_kib(d.proc.pid, "VmHWM"))
        c.close()


def case_many_rcpts():
    """10,000 RCPTs pipelined in one transaction: 1,000 accepted (lmtp.max_recipients),
    9,000 get 452 4.5.3 (Postfix sends them again later), one reply per accepted one."""
    n = 10000
    with Daemon() as d:
        d.start()
        c = slow_session(d)
        rcpts = ["bounces+r%05d=remote.test@bounce.test" % i for i in range(n)]
        msg = dot_stuff(dsn("many@remote.test"))
        t0 = time.monotonic()
        # sent from a thread: the daemon stops reading while its replies back up
        th = threading.Thread(target=c.send, args=(
            b"MAIL FROM:<>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) +
            b"DATA\r\n",))
        th.start()
        got = [c.reply()[0] for _ in range(n + 2)]
        th.join()
        check(got[0].startswith("250 2.1.0"), got[0])
        ok = [g for g in got[1:n + 1] if g.startswith("250 2.1.5")]
        full = [g for g in got[1:n + 1] if g.startswith("452 4.5.3")]
        check(len(ok) == 1000 and len(full) == n - 1000, "250: %d, 452: %d" % (len(ok), len(full)))
        check(got[1:1001] == ok, "the first 1,000 are the accepted ones")
        check(got[n + 1].startswith("354"), got[n + 1])
        c.send(msg + b".\r\n")
        final = [c.reply()[0] for _ in range(1000)]
        print("10,000 RCPT: %d accepted, %d deferred (452), %d final replies in %.2f s" % (
            len(ok), len(full), len(final), time.monotonic() - t0))
        check(all(f.startswith("250 2.0.0 <bounces+r") for f in final), final[:3])
        check(final[999].startswith("250 2.0.0 <bounces+r00999=remote.test@bounce.test>"),
              final[999])
        check(c.cmd("NOOP")[0].startswith("250"), "nothing more was sent")
        c.close()
        check(d.check("many@remote.test").startswith("SUPPRESSED"), "stored")


def nested(depth):
    head = ("From: MAILER-DAEMON@mx.example.net\nTo: bounces@bounce.test\n"
            "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n")
    parts = []
    for i in range(depth):
        parts.append("Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n" % (i, i))
    inner = "Content-Type: text/plain\n\n<deep@remote.test>: 550 5.1.1 User unknown\n"
    tail = "".join("--b%d--\n" % i for i in reversed(range(depth)))
    return head + "".join(parts) + inner + tail


def case_deep_mime():
    """MIME nesting 1,000 deep: 250, stored, the parser walks 16 levels and says so."""
    with Daemon() as d:
        d.start()
        c = slow_session(d)
        t0 = time.monotonic()
        r = c.deliver(nested(1000))
        print("MIME 1,000 deep: %s in %.2f s" % (r[0], time.monotonic() - t0))
        check(r[0].startswith("250 2.0.0"), r)
        check(d.grep("nesting"), "the depth limit is reported (parse_warning)")
        still_serves(d, "deep")
        c.close()


def case_nul_bytes():
    """NUL bytes: in a message they are kept byte for byte; in a command, 500."""
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        msg = dsn("nul@remote.test").replace("Subject: Undelivered",
                                             "Subject: Undeli\0vered").encode()
        msg += b"trailing \0\0 bytes\n"
        r = c.deliver(msg)
        check(r[0].startswith("250 2.0.0"), r)
        raw = db_rows(d, "SELECT raw FROM bounce WHERE id = ?", bounce_id(r[0]))[0][0]
        check(raw == dot_stuff(msg), "raw bytes with NULs kept exactly")
        check(d.check("nul@remote.test").startswith("SUPPRESSED hard"), "still parsed")
        check(c.cmd("NO\0OP")[0].startswith("500 5.5.2"), "NUL in a command")
        r = c.cmd("RCPT TO:<a\0b@bounce.test>")
        check(r[0].startswith("5"), "NUL in an address: %r" % r)
        check(c.cmd("NOOP")[0].startswith("250"), "session goes on")
        c.close()
        s = d.connect("query.sock")
        s.sendall(b"CHECK a\0b@x.test\nCHECK ok@x.test\n")
        f = s.makefile("rb")
        ans = f.readline()
        check(ans.startswith(b"ERR invalid address"), "query with NUL: %r" % ans)
        check(f.readline() == b"OK\n", "next query answered")
        s.close()


def case_invalid_utf8():
    """Invalid UTF-8 in headers, diagnostics and addresses: stored, no crash; the
    query socket answers ERR for an address that is not UTF-8."""
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        msg = dsn("utf@remote.test").encode().replace(b"User unknown", b"User \xff\xfe\xc3 unknown")
        msg = msg.replace(b"Subject: Undelivered", b"Subject: \xc0\xaf Undelivered")
        r = c.deliver(msg)
        check(r[0].startswith("250 2.0.0"), r)
        check(d.check("utf@remote.test").startswith("SUPPRESSED hard"), "parsed anyway")
        bad = dsn("x@remote.test").encode().replace(b"x@remote.test", b"\xff\xfeq@remote.test")
        r = c.deliver(bad)
        check(r[0].startswith("250 2.0.0"), "address with invalid UTF-8: %r" % r)
        c.close()
        s = d.connect("query.sock")
        s.sendall(b"CHECK \xff\xfeq@remote.test\nCHECK ok@x.test\n")
        f = s.makefile("rb")
        ans = f.readline()
        print("CHECK of an invalid UTF-8 address: %r" % ans)
        check(ans.startswith(b"ERR invalid address: address is neither ASCII nor valid UTF-8"), ans)
        check(f.readline() == b"OK\n", "next query answered")
        s.close()
        # admin output stays one clean line per row (percent-encoded)
        data, st = d.admin("LIST state=all")
        check(st.startswith("OK count="), st)
        for l in data:
            check(all(0x21 <= b <= 0x7e or b == 0x20 for b in l.encode()), "encoded: %r" % l)


def case_huge_dsn():
    """A DSN naming 100,000 recipients (about 8 MB): read to its end, 250, kept
    truncated at lmtp.keep_bytes, at most 1,000 recipients (parser limit) recorded,
    a warning says so; memory stays bounded."""
    n = 100000
    with Daemon() as d:
        d.start()
        blocks = "".join("\nFinal-Recipient: rfc822; u%06d@remote.test\nAction: failed\n"
                         "Status: 5.1.1\n" % i for i in range(n))
        msg = ("From: MAILER-DAEMON@mx.example.net\nTo: bounces@bounce.test\n"
               "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
               "Content-Type: multipart/report; report-type=delivery-status; boundary=\"h\"\n\n"
               "--h\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n"
               + blocks + "\n--h--\n")
        before = None if WRAPPED else rss_kib(d.proc.pid)
        c = slow_session(d)
        t0 = time.monotonic()
        r = c.deliver(msg)
        secs = time.monotonic() - t0
        check(r[0].startswith("250 2.0.0"), r)
        bid = bounce_id(r[0])
        (nrcpt, rawlen), = db_rows(d, "SELECT nrcpt, length(raw) FROM bounce WHERE id = ?", bid)
        (events,), = db_rows(d, "SELECT count(*) FROM event WHERE bounce_id = ?", bid)
        (entries,), = db_rows(d, "SELECT count(*) FROM addr")
        hwm = None if WRAPPED else rss_kib(d.proc.pid, "VmHWM")
        print("DSN of %d recipients, %d bytes: 250 in %.2f s; stored %d bytes of it, %d "
              "recipients, %d events, %d entries; daemon RSS %s KiB before, VmHWM %s KiB" % (
                  n, len(msg), secs, rawlen, nrcpt, events, entries, before, hwm))
        check(rawlen == 4 * 1024 * 1024, "kept lmtp.keep_bytes (4M): %d" % rawlen)
        check(nrcpt == 1000 and events == 1000 and entries == 1000,
              "1,000 recipients recorded: %d %d %d" % (nrcpt, events, entries))
        check(d.grep("truncated=1") and d.grep("recipients=1000"), "the bounce line says so")
        check(d.check("u000999@remote.test").startswith("SUPPRESSED"), "the 1,000th")
        check(d.check("u001000@remote.test") == "OK", "the 1,001st is not recorded")
        if hwm is not None:
            check(hwm < 256 * 1024, "memory bounded: VmHWM %d KiB" % hwm)
        c.close()


def case_slowloris():
    """Silence: 421 4.4.2 after lmtp.idle_timeout.  A trickle (a byte now and then,
    never a whole command) holds its slot only while nobody else needs it."""
    with Daemon({"lmtp": "  idle_timeout: 2\n  max_connections: 1\n",
                 "query": "  idle_timeout: 1\n"}) as d:
        d.start()
        c = Lmtp(d)
        check(c.reply()[0].startswith("220"), "greeting")
        t0 = time.monotonic()
        r = c.reply()
        secs = time.monotonic() - t0
        print("silent LMTP client: %r after %.1f s (idle_timeout 2)" % (r[0], secs))
        check(r[0].startswith("421 4.4.2 lmtp.test Error: timeout exceeded"), r)
        check(c.reply()[0] == "(eof)", "closed")
        check(1.5 < secs < 10, "closed by the idle timeout, %.1f s" % secs)
        c.close()
        # the trickler: "LHLO x" one byte every 0.3 s, never the line end
        t = Lmtp(d)
        t.reply()
        for b in b"LHLO trickle":
            t.send(bytes([b]))
            time.sleep(0.3)
        # its slot is the only one: a newcomer evicts it (no reply for > 1 s)
        n = Lmtp(d)
        g = n.reply()
        check(g[0].startswith("220 "), "newcomer served: %r" % g)
        r = t.reply()
        check(r[0].startswith("421 4.4.2") and "Idle connection closed" in r[0], "trickler: %r" % r)
        check(n.cmd("LHLO x")[-1].startswith("250 "), "newcomer works")
        n.close()
        t.close()
        check(d.grep("event=evicted socket=lmtp"), "eviction logged")
        # the query socket: a silent client is dropped after query.idle_timeout
        s = d.connect("query.sock")
        t0 = time.monotonic()
        check(s.recv(100) == b"", "query idle client closed")
        print("silent query client closed after %.1f s (idle_timeout 1)" % (time.monotonic() - t0))
        s.close()


def fill_without_reading(s, chunk, limit=64 << 20):
    """Sends chunk repeatedly without reading until the socket blocks for 1 s."""
    s.setblocking(False)
    sent = 0
    stalled = None
    while sent < limit:
        try:
            sent += s.send(chunk)
            stalled = None
        except BlockingIOError:
            if stalled is None:
                stalled = time.monotonic()
            elif time.monotonic() - stalled > 1.0:
                break
            time.sleep(0.01)
    return sent


def case_never_reads():
    """Clients that pipeline and never read: the daemon stops reading them once
    their replies back up, serves everyone else, and drops them after the idle
    timeout (a write that makes no progress)."""
    with Daemon({"lmtp": "  idle_timeout: 3\n", "query": "  idle_timeout: 3\n"}) as d:
        d.start()
        before = None if WRAPPED else rss_kib(d.proc.pid)
        c = lmtp_session(d)
        sent = fill_without_reading(c.s, b"NOOP\r\n" * 1000)
        q = d.connect("query.sock")
        qsent = fill_without_reading(q, b"CHECK someone@x.test\n" * 500)
        after = None if WRAPPED else rss_kib(d.proc.pid)
        print("never-reading LMTP client got %d bytes in before the daemon stopped reading; "
              "query client %d bytes; daemon RSS %s -> %s KiB" % (sent, qsent, before, after))
        check(sent < 8 << 20 and qsent < 8 << 20, "the daemon stopped reading them")
        if before is not None:
            check(after - before < 16 * 1024, "memory bounded")
        still_serves(d, "never-reads")
        check(d.check("other@x.test") == "OK", "queries still answered")
        # both are dropped once their writes make no progress for idle_timeout
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (d.grep("end=write_timeout") and
                                                   d.grep("reason=write_timeout")):
            time.sleep(0.2)
        check(d.grep("end=write_timeout"), "LMTP client dropped (write_timeout)")
        check(d.grep("socket=query") and d.grep("reason=write_timeout"),
              "query client dropped (write_timeout)")
        c.close()
        q.close()


def case_evict_lmtp():
    """max_connections 2: an idle session gives its slot to a newcomer (421 4.4.2);
    a session inside a transaction never does; with none idle, 421 4.3.2."""
    with Daemon({"lmtp": "  max_connections: 2\n  idle_timeout: 60\n"}) as d:
        d.start()
        idle = lmtp_session(d)
        busy = lmtp_session(d)
        check(busy.cmd("MAIL FROM:<>")[0].startswith("250"), "busy: MAIL")
        time.sleep(1.3)
        new = Lmtp(d)
        g = new.reply()
        check(g[0].startswith("220 "), "newcomer served: %r" % g)
        r = idle.reply()
        check(r[0] == "421 4.4.2 lmtp.test Idle connection closed: all sessions are in use", r)
        check(idle.reply()[0] == "(eof)", "idle one closed")
        # the busy one was left alone and finishes its transaction
        check(busy.cmd("RCPT TO:<bounces@bounce.test>")[0].startswith("250"), "busy: RCPT")
        check(busy.cmd("DATA")[0].startswith("354"), "busy: DATA")
        busy.send(dot_stuff(dsn("evict@remote.test")) + b".\r\n")
        check(busy.reply()[0].startswith("250 2.0.0"), "busy: stored")
        # now both slots were active within the second: a third is refused
        third = Lmtp(d)
        r = third.reply()
        check(r[0].startswith("421 4.3.2 lmtp.test Too many connections"), r)
        time.sleep(0.2)   # the log line follows the reply
        check(d.grep("event=evicted socket=lmtp") and
              d.grep("event=refused socket=lmtp reason=too_many_connections"), "logged")
        for x in (new, busy, third, idle):
            x.close()


def case_evict_query():
    """query/socketmap max_connections 2: the least recently used connection, idle
    for a second, gives way; recently used ones are kept and the newcomer refused."""
    with Daemon({"query": "  max_connections: 2\n", "socketmap": "  max_connections: 2\n"}) as d:
        d.start()
        a = d.connect("query.sock")
        b = d.connect("query.sock")
        for s in (a, b):
            s.sendall(b"CHECK x@y.test\n")
            check(s.recv(100) == b"OK\n", "served")
        time.sleep(1.3)
        b.sendall(b"CHECK x@y.test\n")       # b used again: a is the least recent
        check(b.recv(100) == b"OK\n", "b")
        c = d.connect("query.sock")
        c.sendall(b"CHECK x@y.test\n")
        check(c.recv(100) == b"OK\n", "newcomer served")
        check(a.recv(100) == b"", "the idle one was closed")
        e = d.connect("query.sock")
        check(e.recv(100) == b"ERR too many connections\n", "refused while all are busy")
        check(d.grep("event=evicted socket=query"), "logged")
        for s in (a, b, c, e):
            s.close()
        # socketmap: the same
        s1 = d.connect("socketmap.sock")
        s2 = d.connect("socketmap.sock")
        time.sleep(1.3)
        s3 = d.connect("socketmap.sock")
        s3.sendall(netstring("suppressed nobody@remote.test"))
        check(s3.recv(100) == b"9:NOTFOUND ,", "socketmap newcomer served")
        check(s1.recv(100) == b"", "the idle one was closed")
        s2.sendall(netstring("suppressed nobody@remote.test"))
        check(s2.recv(100) == b"9:NOTFOUND ,", "s2 served")
        s4 = d.connect("socketmap.sock")
        check(s4.recv(100) == b"22:TEMP too many connections,", "socketmap refusal")
        for s in (s1, s2, s3, s4):
            s.close()


HOSTILE = [
    "o'brien@remote.test",
    '"x\');drop table bounce;--"@remote.test',
    '"$(touch /tmp/pwned); `id`"@remote.test',
    "a|b&c$d'e`f{g}~h@remote.test",
    '"john \\"doe\\""@remote.test',
    '"a,b;c"@remote.test',
    '"=cmd|\' /c calc\'!a0"@remote.test',
]


def case_hostile_addresses():
    """Quotes, SQL, shell and CSV metacharacters in bounced-to addresses: stored and
    answered literally everywhere (LMTP -> CHECK, socketmap, bouncectl, export)."""
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        for a in HOSTILE:
            r = c.deliver(dsn(a))
            check(r[0].startswith("250 2.0.0"), "%s: %r" % (a, r))
        c.close()
        stored = sorted(r[0] for r in db_rows(d, "SELECT address FROM addr"))
        check(stored == sorted(HOSTILE), "stored literally:\n%r\nwant\n%r" % (stored, sorted(HOSTILE)))
        check(db_rows(d, "SELECT count(*) FROM bounce")[0][0] == len(HOSTILE), "table intact")
        for a in HOSTILE:
            ans = d.check(a)
            check(ans.startswith("SUPPRESSED hard userunknown "), "CHECK %s: %r" % (a, ans))
            sm = d.smap("suppressed " + a)
            check(sm[0].startswith("OK 550 5.1.1 suppressed: hard userunknown"), "smap %s: %r" % (a, sm))
            st, out, err = ctl(d, "check", a)
            check(st == 1 and out.startswith(a + ": suppressed hard userunknown"),
                  "bouncectl check %s: %d %r %r" % (a, st, out, err))
            st, out, err = ctl(d, "show", "--json", a)
            check(st == 0, "bouncectl show %s: %d %r" % (a, st, err))
            j = json.loads(out)
            check(j["entry"]["address"] == a and j["events"][0]["class"] == "hard",
                  "show %s: %r" % (a, j["entry"]))
            data, _ = d.admin("SHOW address=" + "".join("%%%02X" % b for b in a.encode()))
            check(fields(data[0]).get("address") == a, "admin SHOW %s: %r" % (a, data[:1]))
        st, out, err = ctl(d, "export", "--format", "csv")
        check(st == 0, err)
        rows = list(csv.reader(io.StringIO(out, newline="")))
        check(sorted(r[0] for r in rows[1:]) == sorted(HOSTILE), "CSV export: %r" % rows)
        st, out, err = ctl(d, "export", "--format", "json")
        check(sorted(o["address"] for o in json.loads(out)) == sorted(HOSTILE), "JSON export")
        check(not os.path.exists("/tmp/pwned"), "nothing was run")


def case_long_address():
    """A 10 kB local part (the address limit is 1,024 bytes): the bounce is stored
    raw and answered 250, the recipient is not recorded and a warning says why;
    CHECK answers ERR, the socketmap NOTFOUND (PERM past 2,048 bytes, the request
    limit), the admin socket and bouncectl refuse it."""
    long10k = "x" * 10000 + "@remote.test"
    long1500 = "y" * 1500 + "@remote.test"
    fits = "z" * 1000 + "@remote.test"
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        r = c.deliver(dsn(long10k))
        check(r[0].startswith("250 2.0.0"), r)
        bid = bounce_id(r[0])
        (nrcpt, rawlen), = db_rows(d, "SELECT nrcpt, length(raw) FROM bounce WHERE id = ?", bid)
        check(nrcpt == 0 and rawlen > 30000, "stored raw, no recipient: %r" % ((nrcpt, rawlen),))
        check(db_rows(d, "SELECT count(*) FROM addr")[0][0] == 0, "no entry")
        check(d.grep("over the 1024-byte limit: not recorded"), "the warning is logged")
        r = c.deliver(dsn(fits))
        check(r[0].startswith("250 2.0.0"), r)
        check(d.check(fits).startswith("SUPPRESSED hard"), "1,012 bytes fit")
        # a VERP envelope whose address is over the limit: the bounce is taken all the
        # same (a RCPT refused with 5xx would be lost), the envelope just names nobody
        verp = "bounces+%s=remote.test@bounce.test" % long1500.split("@")[0]
        r = c.deliver(dsn("named@remote.test"), rcpts=(verp,))
        check(r[0].startswith("250 2.0.0 <bounces+yyy"), "VERP RCPT of 1.5 kB: %r" % r[0][:80])
        check(d.check("named@remote.test").startswith("SUPPRESSED hard"), "the DSN's own recipient")
        c.close()
        check(d.check(long1500) == "ERR invalid address: address longer than 1024 octets",
              d.check(long1500))
        check(d.check(long10k) == "ERR request too long", "10 kB CHECK")
        check(d.smap("suppressed " + long1500) == ["NOTFOUND "], "socketmap 1.5 kB")
        check(d.smap("suppressed " + long10k) == ["PERM request too long"], "socketmap 10 kB")
        _, st = d.admin("SUPPRESS target=" + long1500)
        check(st.startswith("ERR invalid"), st)
        st, out, err = ctl(d, "check", long1500)
        check(st == 2 and "longer than 1024" in err, "bouncectl check: %d %r" % (st, err))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    run_case(CASES)
