#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_daemon.py CASE - integration tests: a real bounced on a temporary
directory, spoken to over its real Unix sockets (LMTP, query, socketmap,
admin).  Each case starts its own daemon; meson registers each case as one
test.  Cases needing root (privilege drop, other uids, tmpfs mounts) skip
when not run as root.
"""
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bouncedtest import (Daemon, Lmtp, SKIP, as_user, check, deliver_ok,  # noqa: E402
                         dot_stuff, dsn, fail, fields, lmtp_session, netstring, proc_uid,
                         run_case, skip, start_as_nobody)

IS_ROOT = os.geteuid() == 0


def case_bounce_suppresses():
    """A DSN over LMTP -> 250 after the commit -> CHECK answers SUPPRESSED at once."""
    with Daemon() as d:
        d.start()
        check(d.check("nobody@remote.test") == "OK", "unknown address must be OK")
        c = lmtp_session(d)
        r = c.deliver(dsn("nobody@remote.test"))
        check(r[0].startswith("250 2.0.0 <bounces@bounce.test> Ok: stored as bounce"), r)
        # the 250 was sent after the index learnt it: no delay allowed
        ans = d.check("nobody@remote.test")
        check(ans.startswith("SUPPRESSED hard userunknown "), "CHECK: %r" % ans)
        check(d.check("NoBody@Remote.TEST") == ans, "normalisation")
        # the socketmap refuses it for Postfix, with the reason
        sm = d.smap("suppressed nobody@remote.test", "suppressed nobody+tag@remote.test",
                    "suppressed_transport nobody@remote.test", "suppressed other@remote.test")
        check(sm[0].startswith("OK 550 5.1.1 suppressed: hard userunknown since "), sm)
        check(sm[1] == sm[0], "recipient_delimiter: %r" % sm)
        check(sm[2].startswith("OK error:5.1.1 suppressed: hard userunknown"), sm)
        check(sm[3] == "NOTFOUND ", sm)
        check(d.grep("event=decision") and d.grep("state=suppressed"), "decision log line")
        c.close()


def case_verp():
    """The recipient comes back from the VERP envelope when the bounce names nobody."""
    prose = ("From: MAILER-DAEMON@old.mta\nTo: bounces+vu=remote.test@bounce.test\n"
             "Subject: failure notice\n\nHi. This is the qmail-send program.\n"
             "I'm afraid I wasn't able to deliver your message.\n\n"
             "Sorry, no mailbox here by that name. (#5.1.1)\n")
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        r = c.deliver(prose, rcpts=("bounces+vu=remote.test@bounce.test",))
        check(r[0].startswith("250 "), r)
        check(d.grep("verp=vu@remote.test"), "verp decoded in the log")
        ans = d.check("vu@remote.test")
        check(ans.startswith("SUPPRESSED hard "), "CHECK: %r" % ans)
        c.close()


def case_not_a_bounce():
    """A message that is not a bounce is stored, logged and accepted: never 5xx."""
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        r = c.deliver("Subject: hello\n\nJust a normal mail.\n", mail_from="someone@x.test")
        check(r[0].startswith("250 2.0.0"), r)
        # the same message again (Postfix retrying after a lost 250): a duplicate
        r = c.deliver("Subject: hello\n\nJust a normal mail.\n", mail_from="someone@x.test")
        check(r[0].startswith("250 2.0.0") and "already stored" in r[0], r)
        check(d.grep("duplicate=1"), "duplicate logged")
        c.close()


def case_lmtp_protocol():
    """Pipelining, RSET, several transactions, one reply per recipient, limits."""
    with Daemon({"lmtp": "  max_recipients: 3\n"}) as d:
        d.start()
        c = Lmtp(d)
        c.reply()
        m1 = b"Subject: one\r\n\r\nbody 1\r\n..dot\r\n.\r\n"
        m2 = b"Subject: two\r\n\r\nbody 2\r\n.\r\n"
        # everything in one write, as a pipelining client may
        c.send(b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@bounce.test>\r\nRCPT TO:<b@bounce.test>\r\n"
               b"DATA\r\n" + m1 + b"RSET\r\nMAIL FROM:<>\r\nRCPT TO:<c@bounce.test>\r\nDATA\r\n" +
               m2 + b"NOOP\r\nFOO\r\n")
        lhlo = c.reply()
        check("250-PIPELINING" in lhlo and "250-ENHANCEDSTATUSCODES" in lhlo and
              "250-8BITMIME" in lhlo and any(l.startswith("250-SIZE ") for l in lhlo), lhlo)
        got = [c.reply()[0] for _ in range(13)]
        want = ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354 ", "250 2.0.0 <a@bounce.test>",
                "250 2.0.0 <b@bounce.test>", "250 2.0.0 Ok", "250 2.1.0", "250 2.1.5", "354 ",
                "250 2.0.0 <c@bounce.test>", "250 2.0.0 Ok", "500 5.5.2"]
        for g, w in zip(got, want):
            check(g.startswith(w), "got %r want %r (all: %r)" % (g, w, got))
        # recipient limit: 452 for the 4th, the 3 accepted get their replies
        r = c.cmd("MAIL FROM:<>")
        for i in range(3):
            check(c.cmd("RCPT TO:<r%d@bounce.test>" % i)[0].startswith("250"), "rcpt")
        check(c.cmd("RCPT TO:<r9@bounce.test>")[0].startswith("452 4.5.3"), "452")
        c.cmd("DATA")
        c.send(b"Subject: three\r\n\r\nx\r\n.\r\n")
        check(len([c.reply() for _ in range(3)]) == 3, "three replies")
        check(c.cmd("QUIT")[0].startswith("221"), "quit")
        c.close()
        data, st = d.admin("STATS")
        stats = {}
        for l in data:
            stats.update(fields(l))
        check(stats.get("bounces") == "3" and stats.get("bounces_failed") == "0", stats)
        # the lines we cannot hold: refused, and the session goes on
        c = lmtp_session(d)
        check(c.cmd("NOOP " + "x" * 5000)[0].startswith("500 5.5.2"), "long line")
        check(c.cmd("NOOP")[0].startswith("250"), "after long line")
        c.close()


def case_big_message():
    """Over keep_bytes and over max_message_size: read to the end, kept truncated, 250."""
    with Daemon({"lmtp": "  max_message_size: 64k\n  keep_bytes: 16k\n"}) as d:
        d.start()
        c = lmtp_session(d)
        body = "Subject: big\n\n" + ("x" * 76 + "\n") * 3000   # ~230 kB
        r = c.deliver(body)
        check(r[0].startswith("250 2.0.0"), r)
        check(d.grep("truncated=1") and d.grep("kept=16384"), "truncation logged")
        c.close()


def case_store_locked():
    """The database locked by another process: 451 4.3.0, then 250 once it is free."""
    with Daemon({"store": "  busy_timeout_ms: 200\n"}) as d:
        d.start()
        db = sqlite3.connect(os.path.join(d.state, "bounced.db"), timeout=5,
                             isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        c = lmtp_session(d)
        r = c.deliver(dsn("locked@remote.test"), rcpts=("bounces@bounce.test", "b2@bounce.test"))
        check(r[0].startswith("451 4.3.0 <bounces@bounce.test>") and r[1].startswith("451 4.3.0"),
              "locked store: %r" % r)
        check(d.grep("result=failed"), "failure logged")
        # nothing half-written: the index did not learn it either
        check(d.check("locked@remote.test") == "OK", "a refused bounce leaves no trace")
        check(d.check("x@y.test") == "OK", "query during the fault")
        db.execute("ROLLBACK")
        check(db.execute("SELECT count(*) FROM bounce").fetchone()[0] == 0, "nothing stored")
        db.close()
        # resumes by itself: the same session, no restart
        r = c.deliver(dsn("locked@remote.test"))
        check(r[0].startswith("250 2.0.0"), "after unlock: %r" % r)
        check(d.check("locked@remote.test").startswith("SUPPRESSED hard"), "now known")
        c.close()


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                       capture_output=True)
    return r.returncode == 0


def case_store_readonly():
    """Database file read-only: the daemon still starts and answers queries, LMTP gets
    451 4.3.0 (Postfix keeps the bounce), and 250 again as soon as the file is writable."""
    with Daemon() as d:
        d.start()
        d.admin("SUPPRESS target=known@remote.test reason=userunknown")
        deliver_ok(d, dsn("ro0@remote.test"))
        d.stop()
        db = os.path.join(d.state, "bounced.db")
        os.chmod(db, 0o444)
        if os.geteuid() == 0 and d.user is None:
            skip("root ignores file permissions")
        d.start()
        check(d.check("known@remote.test").startswith("SUPPRESSED manual"), "queries still answered")
        c = lmtp_session(d)
        r = c.deliver(dsn("ro1@remote.test"))
        check(r[0].startswith("451 4.3.0"), "read-only: %r" % r)
        check(d.check("ro1@remote.test") == "OK", "a refused bounce leaves no trace")
        data, st = d.admin("SHOW address=known@remote.test")
        check(st.startswith("OK"), "admin reads during the fault: %r" % st)
        os.chmod(db, 0o644)
        time.sleep(0.6)   # the writer retries its open at most twice a second
        r = c.deliver(dsn("ro1@remote.test"))
        check(r[0].startswith("250 2.0.0"), "after chmod back: %r" % r)
        check(d.check("ro1@remote.test").startswith("SUPPRESSED hard"), "now known")
        c.close()
        d.stop()
        con = sqlite3.connect(db)
        check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity")
        check(con.execute("SELECT count(*) FROM bounce").fetchone()[0] == 2, "ro0 and ro1 once")
        con.close()


def case_store_full():
    """Database file system full: 451 4.3.0, nothing half-written, 250 once space is freed."""
    if not IS_ROOT:
        skip("needs root to mount a tmpfs")
    d = Daemon()
    state = d.state
    if not mount_tmpfs(state, "8m"):
        d.cleanup()
        skip("cannot mount a tmpfs here")
    os.chown(state, 65534, 65534)
    try:
        with d:
            d.start()
            c = lmtp_session(d)
            check(c.deliver(dsn("f0@remote.test"))[0].startswith("250"), "before")
            filler = os.path.join(state, "filler")
            try:
                with open(filler, "wb") as f:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
            except OSError:
                pass
            big = ("x" * 76 + "\n") * 3000
            r = c.deliver(dsn("full@remote.test") + big)
            check(r[0].startswith("451 4.3.0"), "disk full: %r" % r)
            check(d.check("x@y.test") == "OK", "queries during the fault")
            check(d.check("f0@remote.test").startswith("SUPPRESSED"), "what is known stays")
            check(d.check("full@remote.test") == "OK", "a refused bounce leaves no trace")
            if os.path.exists(filler):
                os.unlink(filler)
            time.sleep(0.6)
            r = c.deliver(dsn("full@remote.test") + big)
            check(r[0].startswith("250 2.0.0"), "after freeing space: %r" % r)
            c.close()
            d.stop()
            db = sqlite3.connect(os.path.join(state, "bounced.db"))
            check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity")
            n = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            check(n > 0, "schema there")
            # nothing half-written: f0 and full, once each, each with its event
            check(db.execute("SELECT count(*) FROM bounce").fetchone()[0] == 2, "two bounces")
            check(db.execute("SELECT count(*) FROM event").fetchone()[0] == 2, "two events")
            db.close()
    finally:
        subprocess.run(["umount", "-l", state], capture_output=True)
        if not os.environ.get("KEEP_TMP"):
            import shutil
            shutil.rmtree(d.tmp, ignore_errors=True)   # the mount point outlived cleanup()


def case_admin_denied():
    """Admin is refused to a uid not in admin.allow_uids; the query socket changes nothing."""
    if not IS_ROOT:
        skip("needs root to connect as another uid")
    with Daemon({"admin": "  mode: \"0666\"\n"}) as d:
        d.start()
        _, st = d.admin("PING")
        check(st.startswith("OK version=1"), "root allowed: %r" % st)

        def as_nobody():
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.path("admin.sock"))
            try:
                s.sendall(b"SUPPRESS target=victim@x.test\n")
            except BrokenPipeError:
                pass    # refused and closed already: the reason is still there to read
            reply = s.makefile("rb").readline().decode()
            print("nobody got: %r" % reply)
            return 0 if reply.startswith("ERR denied uid 65534 is not in admin.allow_uids") else 1
        check(as_user("nobody", as_nobody) == 0, "nobody must be denied")
        check(d.grep("event=admin_refused uid=65534"), "refusal logged")
        check(d.check("victim@x.test") == "OK", "nothing changed")
        # the query and socketmap sockets cannot change anything
        check(d.query("SUPPRESS victim@x.test")[0].startswith("ERR unknown command"), "query")
        check(d.smap("suppressed victim@x.test")[0] == "NOTFOUND ", "socketmap")


def case_admin_flow():
    """suppress -> query/socketmap see it -> list -> unsuppress -> forget."""
    with Daemon() as d:
        d.start()
        _, st = d.admin("SUPPRESS target=Man@Example.test reason=userunknown note=asked%20by%20"
                        "customer until=30d")
        check(st == "OK changed=1", st)
        ans = d.check("man@example.test")
        check(ans.startswith("SUPPRESSED manual userunknown ") and " until=" in ans, ans)
        _, st = d.admin("SUPPRESS target=@blocked.test reason=hostunknown")
        check(st == "OK changed=1", st)
        ans = d.check("anyone@blocked.test")
        check(ans.startswith("SUPPRESSED manual hostunknown ") and "entry=domain" in ans, ans)
        sm = d.smap("suppressed anyone@blocked.test")
        check(sm[0].startswith("OK 550 5.7.1 suppressed (domain entry): manual hostunknown"), sm)
        data, st = d.admin("LIST")
        check(st == "OK count=2" and len(data) == 2, (data, st))
        check(fields(data[0])["address"] == "@blocked.test", data)
        data, st = d.admin("CHECK address=man@example.test")
        check(st == "OK" and fields(data[0])["state"] == "suppressed", data)
        _, st = d.admin("UNSUPPRESS target=man@example.test note=works%20again")
        check(st == "OK lifted=1", st)
        check(d.check("man@example.test") == "OK", "lifted")
        _, st = d.admin("UNSUPPRESS target=man@example.test")
        check(st == "OK lifted=0", st)
        _, st = d.admin("FROB x=1")
        check(st.startswith("ERR usage unknown command"), st)
        _, st = d.admin("SUPPRESS target=not-an-address")
        check(st.startswith("ERR invalid"), st)
        _, st = d.admin("SUPPRESS target=a@b.test bogus=1")
        check(st.startswith("ERR usage unknown argument bogus"), st)
        # GDPR: forgotten, still suppressed through the keyed hash
        d.admin("SUPPRESS target=gdpr@example.test reason=userunknown")
        _, st = d.admin("FORGET address=gdpr@example.test")
        check(st.startswith("OK forgotten=1") and "kept_suppressed=1" in st, st)
        check(d.check("gdpr@example.test").startswith("SUPPRESSED"), "still suppressed")
        data, _ = d.admin("EXPORT")
        check(not any("gdpr@example.test" in l for l in data), "address text erased")
        d.stop()
        # a restart loads the index from the store
        d.start()
        check(d.check("anyone@blocked.test").startswith("SUPPRESSED"), "after restart")
        check(d.check("gdpr@example.test").startswith("SUPPRESSED"), "forgotten after restart")


def case_import_export():
    """IMPORT streams entries in batches; EXPORT streams them all back."""
    n = 5000
    with Daemon() as d:
        d.start()
        s = d.connect("admin.sock", timeout=60)
        f = s.makefile("rb")
        s.sendall(b"IMPORT source=test\n")
        check(f.readline() == b"OK send\n", "import ready")
        lines = ["+ target=user%05d@imp.test cause=import reason=userunknown status=5.1.1 "
                 "since=2024-01-02T03:04:05Z" % i for i in range(n)]
        lines.insert(10, "+ target=broken")
        lines.insert(20, "garbage")
        s.sendall(("\n".join(lines) + "\n.\n").encode())
        out = []
        while True:
            l = f.readline().decode().rstrip("\n")
            out.append(l)
            if not l.startswith("+ "):
                break
        check(out[-1] == "OK imported=%d errors=2" % n, out[-3:])
        check(out[0].startswith("+ error line=11 ") and out[1].startswith("+ error line=21 "), out[:2])
        s.close()
        check(d.check("user04999@imp.test").startswith("SUPPRESSED import userunknown "
                                                       "2024-01-02T03:04:05Z"), "imported")
        # export: all rows, in address order, read slowly in small pieces
        s = d.connect("admin.sock", timeout=60)
        s.sendall(b"EXPORT\n")
        buf = b""
        while not buf.endswith(b"\n") or not (buf.rsplit(b"\n", 2)[-2].startswith(b"OK") or
                                              buf.rsplit(b"\n", 2)[-2].startswith(b"ERR")):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        rows = buf.decode().splitlines()
        check(rows[-1] == "OK count=%d" % n, rows[-1])
        addrs = [fields(r)["address"] for r in rows[:-1]]
        check(addrs == sorted(addrs) and len(addrs) == n, "order/count")
        # paging
        data, st = d.admin("LIST limit=10 after=user00100@imp.test")
        check(len(data) == 10 and fields(data[0])["address"] == "user00101@imp.test", data[:1])
        check(st == "OK count=10 next=user00110@imp.test", st)


def case_admin_reads():
    """SHOW (entry, events, audit), RAW, STATS, INCIDENTS, AUDIT over the admin socket."""
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        r = c.deliver(dsn("shown@remote.test"))
        check(r[0].startswith("250"), r)
        bounce_id = int(r[0].rsplit(" ", 1)[1])
        c.close()
        d.admin("SUPPRESS target=shown@remote.test reason=userunknown note=by%20hand")
        data, st = d.admin("SHOW address=Shown@Remote.test")
        check(st.startswith("OK events="), st)
        entry = [fields(l) for l in data if l.startswith("+ type=entry ")]
        audit = [fields(l) for l in data if l.startswith("+ type=audit ")]
        check(entry and entry[0]["address"] == "shown@remote.test" and
              entry[0]["cause"] == "manual", data)
        check(audit and audit[-1]["action"] == "suppress" and audit[-1]["note"] == "by hand" and
              audit[-1]["actor"].startswith("uid="), audit)
        events = [fields(l) for l in data if l.startswith("+ type=event ")]
        check(events and events[0]["bounce"] == str(bounce_id), events)
        _, st = d.admin("SHOW address=unknown@remote.test")
        check(st.startswith("ERR notfound"), st)
        # RAW: the bytes as delivered (dot-unstuffed, CRLF as sent)
        s = d.connect("admin.sock")
        s.sendall(b"RAW bounce=%d\n" % bounce_id)
        f = s.makefile("rb")
        head = f.readline().decode()
        check(head.startswith("OK bytes="), head)
        n = int(head.split("=")[1])
        raw = f.read(n)
        check(f.read(1) == b"\n", "LF after the raw bytes")
        check(raw == dot_stuff(dsn("shown@remote.test")).replace(b"\r\n", b"\n") or
              raw == dot_stuff(dsn("shown@remote.test")), "raw bytes round-trip")
        s.close()
        _, st = d.admin("RAW bounce=999999")
        check(st.startswith("ERR notfound"), st)
        data, st = d.admin("STATS")
        check(st == "OK", st)
        kinds = {fields(l).get("type") for l in data}
        check({"daemon", "total", "suppressed"} <= kinds, kinds)
        tot = [fields(l) for l in data if l.startswith("+ type=total ")][0]
        check(tot["bounces"] == "1", tot)
        _, st = d.admin("INCIDENTS all=1")
        check(st.startswith("OK count="), st)
        data, st = d.admin("AUDIT limit=1")
        check(st.startswith("OK count=1 next=") and data[0].startswith("+ type=audit "), (data, st))
        data, st = d.admin("AUDIT target=shown@remote.test")
        check(st == "OK count=1", st)


def case_export_roundtrip():
    """EXPORT -> IMPORT into a fresh daemon -> EXPORT: byte-identical (but updated=)."""
    def export(d):
        s = d.connect("admin.sock", timeout=60)
        s.sendall(b"EXPORT state=all\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if buf.endswith(b"\n") and (b"\nOK count=" in buf[-40:] or buf.startswith(b"OK")):
                break
        s.close()
        return buf
    with Daemon() as a:
        a.start()
        lines = ["+ target=u%04d@rt.test cause=%s reason=%s status=5.1.1 since=2024-01-0%dT00:00:00Z"
                 " until=%s" % (i, ("hard", "soft", "complaint", "manual", "import")[i % 5],
                                ("userunknown", "mailboxfull", "feedback", "hostunknown",
                                 "undefined")[i % 5], 1 + i % 9,
                                "never" if i % 2 else "2031-01-01T00:00:00Z") for i in range(300)]
        lines.append("+ target=@wholedomain.test cause=manual reason=hostunknown")
        s = a.connect("admin.sock", timeout=60)
        f = s.makefile("rb")
        s.sendall(b"IMPORT source=rt\n")
        f.readline()
        s.sendall(("\n".join(lines) + "\n.\n").encode())
        st = f.readline().decode()
        check(st.startswith("OK imported=301 errors=0"), st)
        s.close()
        a.admin("FORGET address=u0001@rt.test")
        first = export(a)
        with Daemon() as b:
            b.start()
            s = b.connect("admin.sock", timeout=60)
            f = s.makefile("rb")
            s.sendall(b"IMPORT source=export\n")
            f.readline()
            body = first.rsplit(b"\nOK count=", 1)[0] + b"\n"
            s.sendall(body + b".\n")
            st = f.readline().decode()
            check(st.startswith("OK imported=301 errors=0"), st)
            s.close()
            second = export(b)
            # updated= is when the entry last changed in *this* database: the import time
            first = re.sub(rb" updated=\S+", b"", first)
            second = re.sub(rb" updated=\S+", b"", second)
            if first != second:
                fl, sl = first.splitlines(), second.splitlines()
                diff = [(x, y) for x, y in zip(fl, sl) if x != y][:3]
                fail("exports differ (%d vs %d lines): %r" % (len(fl), len(sl), diff))
            check(b.check("anyone@wholedomain.test").startswith("SUPPRESSED"), "domain entry")


def case_privileges():
    """Started as root: sockets with their owner/group/mode, then runs as the user."""
    if not IS_ROOT:
        skip("needs root")
    import grp
    import pwd
    try:
        pf = grp.getgrnam("postfix")
        pwd.getpwnam("postfix")
    except KeyError:
        skip("no postfix user/group here")
    old = os.umask(0o077)   # a hostile umask must not matter
    try:
        with Daemon(user="nobody") as d:
            d.start()
            os.umask(old)
            check(proc_uid(d.proc.pid) == 65534, "runs as nobody")
            st = os.stat(d.path("lmtp.sock"))
            check(st.st_mode & 0o7777 == 0o660 and st.st_gid == pf.gr_gid,
                  "lmtp.sock mode %o gid %d" % (st.st_mode & 0o7777, st.st_gid))
            check(os.stat(d.path("query.sock")).st_mode & 0o777 == 0o666, "query.sock 0666")
            check(os.stat(d.path("admin.sock")).st_mode & 0o777 == 0o600, "admin.sock 0600")
            check(os.stat(os.path.join(d.state, "secret")).st_mode & 0o777 == 0o600, "secret 0600")
            check(os.stat(os.path.join(d.state, "bounced.db")).st_uid == 65534, "db owned by user")

            def as_postfix():
                s = socket.socket(socket.AF_UNIX)
                s.connect(d.path("lmtp.sock"))
                return 0 if s.makefile("rb").readline().startswith(b"220 ") else 1
            check(as_user("postfix", as_postfix) == 0, "postfix can connect to lmtp.sock")
            deliver_ok(d, dsn("priv@remote.test"))
    finally:
        os.umask(old)


def case_unprivileged():
    """Started as an ordinary user from the start: no drop, default group skipped, serves."""
    if not IS_ROOT:
        skip("needs root to start the daemon as nobody")
    with Daemon(user="") as d:
        start_as_nobody(d, (d.run, d.state))
        check(d.grep("not in group postfix") or not d.grep("socket=lmtp"), "default group skipped")
        check(not d.grep("privileges_dropped"), "nothing to drop")
        c = lmtp_session(d)
        check(c.deliver("Subject: x\n\nunprivileged\n")[0].startswith("250"), "ingest")
        c.close()
        check(d.check("a@b.test") == "OK", "query")


def case_limits():
    """Connection limit, idle timeout, query line limit."""
    with Daemon({"lmtp": "  max_connections: 2\n  idle_timeout: 1\n",
                 "query": "  max_connections: 2\n"}) as d:
        d.start()
        a, b = lmtp_session(d), lmtp_session(d)
        c = Lmtp(d)
        r = c.reply()
        check(r[0].startswith("421 4.3.2 lmtp.test Too many connections"), r)
        # idle: the two sessions are closed with 421 4.4.2 after 1 s
        r = a.reply()
        check(r[0].startswith("421 4.4.2"), "idle: %r" % r)
        b.close()
        a.close()
        time.sleep(0.2)
        c = lmtp_session(d)   # served again
        c.close()
        # query: too long a request, then the next one is answered
        s = d.connect("query.sock")
        s.sendall(b"CHECK " + b"a" * 5000 + b"@x.test\nCHECK ok@x.test\n")
        f = s.makefile("rb")
        check(f.readline() == b"ERR request too long\n", "long query")
        check(f.readline() == b"OK\n", "next query")
        q2 = d.connect("query.sock")
        q3 = d.connect("query.sock")
        check(q3.makefile("rb").readline() == b"ERR too many connections\n", "query limit")
        s.close()
        q2.close()
        q3.close()


def case_sigterm_drain():
    """SIGTERM in the middle of DATA: the transaction completes (250), then 421, exit 0."""
    with Daemon() as d:
        d.start()
        idle = lmtp_session(d)
        c = lmtp_session(d)
        c.cmd("MAIL FROM:<>")
        c.cmd("RCPT TO:<bounces@bounce.test>")
        c.cmd("DATA")
        c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
        d.signal(signal.SIGTERM)
        time.sleep(0.3)
        check(idle.reply()[0].startswith("421 4.3.2"), "idle session closed with 421")
        check(d.proc.poll() is None, "still running while a transaction is open")
        # new connections are no longer accepted
        try:
            x = Lmtp(d, timeout=2)
            r = x.reply()
            check(r[0] == "(eof)" or r[0].startswith("421"), "refused during shutdown: %r" % r)
        except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError):
            pass
        c.send(b"second half\r\n.\r\n")
        check(c.reply()[0].startswith("250 2.0.0"), "in-flight message committed")
        check(c.reply()[0].startswith("421 4.3.2"), "then 421")
        check(d.proc.wait(10) == 0, "exit 0")
        check(d.grep("event=stopped bounces=1 failed=0"), "stopped cleanly")


def case_sighup_reload():
    """SIGHUP applies a new log level and policy; a broken file keeps the running config."""
    with Daemon() as d:
        d.start()
        text = open(d.config).read()
        d.write_config(text.replace("level: debug", "level: info") +
                       "policy:\n  soft:\n    threshold: 5\n")
        d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not d.grep("event=reloaded what=policy") and time.time() < deadline:
            time.sleep(0.05)
        check(d.grep("event=reload file="), "reloaded")
        check(d.grep("event=reloaded what=policy"), "writer took the new policy")
        d.write_config(text + "lmtp:\n  bogus_key: 1\n")
        d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not d.grep("event=reload_failed") and time.time() < deadline:
            time.sleep(0.05)
        bad = d.grep("event=reload_failed")
        check(bad and "bounced.yaml:" in bad[0] and "lmtp: duplicate key" in bad[0],
              "reload failure names file, line and key: %r" % bad)
        check(d.check("a@b.test") == "OK", "still answering")


def case_check_config():
    """--check-config: 0 when valid; 78 and FILE:LINE: KEY when not."""
    d = Daemon()
    try:
        r = subprocess.run([d.bin, "--check-config", "--config", d.config], capture_output=True)
        check(r.returncode == 0 and b"configuration ok" in r.stdout, r)
        d.write_config("lmtp:\n  socket: x.sock\n  max_connections: 9999\n")
        r = subprocess.run([d.bin, "--check-config", "--config", d.config], capture_output=True)
        check(r.returncode == 78, r)
        check(b"bounced.yaml:3: lmtp.max_connections: 9999 is above the maximum 64" in r.stderr,
              r.stderr)
        r = subprocess.run([d.bin, "--config", d.config], capture_output=True)
        check(r.returncode == 78, "the daemon refuses to start too")
        r = subprocess.run([d.bin], capture_output=True)
        check(r.returncode == 2 and b"usage" in r.stderr, "usage")
    finally:
        d.cleanup()


def case_slow_reader():
    """A client that pipelines queries and never reads: bounded, others unaffected."""
    with Daemon() as d:
        d.start()
        s = d.connect("query.sock")
        s.setblocking(False)
        sent = 0
        try:
            for _ in range(20000):
                sent += s.send(b"CHECK someone@x.test\n" * 100)
        except BlockingIOError:
            pass
        check(sent < 20000 * 2100, "the daemon stopped reading (sent %d)" % sent)
        check(d.check("other@x.test") == "OK", "others still served")
        s.close()


def case_half_close():
    """A client that writes its requests and shuts down its side at once (a
    shell's printf | socat) gets every answer before the connection closes,
    also when it reads slowly and the answers back up far beyond what the
    daemon holds for one client (query: 30,000 ERR lines of 44 bytes for 8-byte
    requests); the socketmap the same."""
    import threading
    n = 30000
    with Daemon() as d:
        d.start()
        for sock, data, want in (
                ("query.sock", b"CHECK x\n" * n, b"ERR invalid address: no '@' in the address\n"),
                ("socketmap.sock", b"".join(b"%d:suppressed half%d@x.test,"
                                            % (len("suppressed half%d@x.test" % i), i)
                                            for i in range(n)), b"9:NOTFOUND ,")):
            s = d.connect(sock)
            s.settimeout(60)

            def send():
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=send)
            t.start()
            time.sleep(0.5)  # the answers back up meanwhile
            got = bytearray()
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
                time.sleep(0.0002)
            t.join()
            s.close()
            check(got.count(want) == n, "%s: %d answers of %d before the close"
                  % (sock, got.count(want), n))


def case_systemd():
    """Socket activation (LISTEN_FDS, sockets told apart by path) and READY=1/STOPPING=1."""
    with Daemon() as d:
        os.makedirs(d.run, exist_ok=True)
        os.chmod(d.run, 0o755)
        names = ["lmtp.sock", "query.sock", "socketmap.sock", "admin.sock"]
        # systemd passes them in any order: reversed here
        socks = []
        for n in reversed(names):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(d.path(n))
            os.chmod(d.path(n), 0o666)
            s.listen(16)
            socks.append(s)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = os.path.join(d.tmp, "notify")
        notify.bind(npath)
        os.chmod(npath, 0o777)
        os.chmod(d.tmp, 0o755)
        notify.settimeout(10)
        wrapper = os.environ.get("BOUNCED_WRAPPER", "").split()
        fds = [s.fileno() for s in socks]
        d.logf = open(d.log, "ab")
        d.starts = 0

        def child_setup():
            # what systemd does: fds 3.. and LISTEN_PID = the daemon's own pid
            high = [os.dup2(fd, 200 + i) for i, fd in enumerate(fds)]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)
                os.set_inheritable(3 + i, True)
                os.close(fd)
        env = dict(os.environ, LISTEN_FDS=str(len(fds)), NOTIFY_SOCKET=npath)
        # LISTEN_PID is the daemon's own pid: sh sets it to $$ and execs in place
        d.proc = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + wrapper +
                                  [d.bin, "--config", d.config], stdout=d.logf,
                                  stderr=subprocess.STDOUT, preexec_fn=child_setup, env=env,
                                  close_fds=False)
        msg = notify.recv(4096)
        check(msg == b"READY=1", "notify: %r" % msg)
        d.wait_ready()
        check(len(d.grep("from=systemd")) == 4, "4 sockets from systemd:\n" + d.read_log())
        check(d.check("x@y.test") == "OK", "query on the passed socket")
        c = lmtp_session(d)
        check(c.deliver("Subject: x\n\nhello\n")[0].startswith("250"), "lmtp on the passed socket")
        c.close()
        _, st = d.admin("PING")
        check(st.startswith("OK"), st)
        d.signal(signal.SIGTERM)
        check(notify.recv(4096) == b"STOPPING=1", "STOPPING=1")
        check(d.proc.wait(10) == 0, "exit 0")
        # systemd's sockets are left in place
        check(os.path.exists(d.path("lmtp.sock")), "socket kept")
        for s in socks:
            s.close()


def case_reevaluate_purge():
    """REEVALUATE (dry run and real) and PURGE go through the writer and answer."""
    with Daemon() as d:
        d.start()
        deliver_ok(d, dsn("re@remote.test"))
        data, st = d.admin("REEVALUATE dry_run=1")
        check(st.startswith("OK changed=") and st.endswith("dry_run=1"), st)
        data, st = d.admin("REEVALUATE")
        check(st.startswith("OK changed=") and st.endswith("dry_run=0"), st)
        _, st = d.admin("PURGE")
        check(st == "OK purged=0", st)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    run_case(CASES)
