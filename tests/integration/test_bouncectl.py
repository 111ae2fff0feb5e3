#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_bouncectl.py CASE - integration tests of bouncectl against a real
bounced on a temporary directory (bouncedtest.Daemon), over its real
sockets: every command, its output, its exit status, and the refusal of
admin commands to a uid not in admin.allow_uids.  Bounces arrive over LMTP
as Postfix would deliver them.  meson registers each case as one test
(suite integration); $BOUNCECTL_BIN and $BOUNCED_BIN name the binaries.
"""
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bouncedtest import (Daemon, deliver_ok, dot_stuff, dsn, fail,  # noqa: E402
                         run_case, skip)
from bouncedtest import check as _check  # noqa: E402

IS_ROOT = os.geteuid() == 0
CTL = os.environ.get("BOUNCECTL_BIN", "")
ORANGE = "  provider_groups:\n    orange: [orange.fr, wanadoo.fr, laposte.net, sfr.fr]\n"
EXPORT_HEADER = "address,class,reason,status,since,until,source"


def check(cond, what):
    _check(cond, what if isinstance(what, str) else repr(what))


def ctl(d, *args, stdin=None, user=None, how="config", timeout=300):
    """Runs bouncectl against d; returns (exit status, stdout, stderr).
    how: config (--config, the query socket from it), socket (--socket) or dir."""
    if not CTL or not os.access(CTL, os.X_OK):
        skip("BOUNCECTL_BIN is not set or not executable")
    where = []
    if d is not None:
        where = {"config": ["--config", d.config], "socket": ["--socket", d.path("admin.sock")],
                 "dir": ["--dir", d.run]}[how]
    cmd = [CTL] + list(args[:1]) + where + list(args[1:])
    kw = {}
    if user is not None:
        import pwd
        pw = pwd.getpwnam(user)

        def demote():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        kw["preexec_fn"] = demote
    p = subprocess.run(cmd, input=stdin.encode() if isinstance(stdin, str) else stdin,
                       capture_output=True, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def ok(r, what, code=0):
    check(r[0] == code, "%s: exit %d, want %d\nstdout: %s\nstderr: %s" %
          (what, r[0], code, r[1][-2000:], r[2][-2000:]))
    return r


def deliver(d, *msgs):
    """Delivers each message over LMTP; returns the bounce ids."""
    return [int(r[0].rsplit(" ", 1)[1]) for r in deliver_ok(d, *msgs)]


def export(d, fmt="csv", *extra):
    r = ok(ctl(d, "export", "--format", fmt, *extra), "export " + fmt)
    return r[1]


# ---- cases ------------------------------------------------------------------

def case_help():
    """Every command answers --help (exit 0); usage errors exit 2."""
    cmds = ["check", "show", "explain", "list", "export", "import", "suppress", "unsuppress",
            "forget", "stats", "incidents", "audit", "reevaluate", "parse", "alerts"]
    for c in cmds:
        r = ok(ctl(None, c, "--help"), c + " --help")
        check(r[1].startswith("usage: bouncectl " + c) or "usage:" in r[1], r[1][:200])
    r = ok(ctl(None, "help", "import"), "help import")
    check("--strict" in r[1], r[1])
    r = ok(ctl(None, "--help"), "--help")
    for c in cmds:
        check(c in r[1], "%s missing from the command list" % c)
    ok(ctl(None, "--version"), "--version")
    p = subprocess.run([CTL], capture_output=True)
    check(p.returncode == 2, "no command: %d" % p.returncode)
    r = ok(ctl(None, "frobnicate"), "unknown command", 2)
    check("unknown command" in r[2], r[2])
    for args in (["list", "--bogus"], ["check"], ["suppress"], ["unsuppress", "a@b.test"],
                 ["show", "a@b.test", "b@b.test"], ["list", "--limit", "0"],
                 ["list", "--class", "nonsense"], ["export", "--format", "xml"],
                 ["stats", "--since", "yesterday-ish"], ["import"], ["forget", "@x.test"],
                 ["suppress", "a@b.test", "--until", "2001-01-01"]):
        r = ok(ctl(None, *args), " ".join(args), 2)
        check(r[2].startswith("bouncectl "), "message: %r" % r[2])


def case_unreachable():
    """No daemon: exit 3 and a one-line message naming the socket."""
    for args in (["check", "x@y.test"], ["list"], ["export"], ["stats"], ["show", "x@y.test"],
                 ["suppress", "x@y.test"], ["reevaluate", "--dry-run"]):
        p = subprocess.run([CTL, args[0], "--socket", "/nonexistent/admin.sock",
                            "--query-socket", "/nonexistent/query.sock"] + args[1:],
                           capture_output=True)
        err = p.stderr.decode()
        check(p.returncode == 3, "%s: exit %d, want 3: %s" % (args, p.returncode, err))
        check("/nonexistent/" in err and "No such file" in err and err.count("\n") == 1,
              "message: %r" % err)
    p = subprocess.run([CTL, "list", "--config", "/nonexistent.yaml"], capture_output=True)
    check(p.returncode == 2 and "/nonexistent.yaml" in p.stderr.decode(), p.stderr)


def answering_peer(path, answer):
    """A peer on the admin socket path that reads one request line and sends
    answer (bytes): what bouncectl makes of answers bounced never sends."""
    import threading
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn:
            buf = b""
            while b"\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
            conn.sendall(answer)
        srv.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def case_bad_encoding():
    """bouncectl decodes the daemon's %XX values strictly, as the daemon
    decodes requests: a malformed value is an error (exit 3), never a
    half-decoded address; an ERR text with a literal '%' is shown as it came."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "admin.sock")
        t = answering_peer(path, b"+ address=a%zz@x.test cause=hard\nOK count=1\n")
        p = subprocess.run([CTL, "list", "--socket", path], capture_output=True, timeout=30)
        t.join(10)
        err = p.stderr.decode()
        check(p.returncode == 3 and "bad %XX" in err, "exit %d: %r" % (p.returncode, err))
        check(b"a%zz" not in p.stdout and b"a\xfa" not in p.stdout, p.stdout)
        os.unlink(path)
        t = answering_peer(path, b"ERR usage bad %XX encoding or NUL in x\n")
        p = subprocess.run([CTL, "list", "--socket", path], capture_output=True, timeout=30)
        t.join(10)
        err = p.stderr.decode()
        check(p.returncode == 2 and "bad %XX encoding or NUL in x" in err,
              "exit %d: %r" % (p.returncode, err))


def case_check():
    """check: exit 0 ok, 1 suppressed, 2 invalid; query socket and admin socket."""
    with Daemon() as d:
        d.start()
        ok(ctl(d, "suppress", "bad@example.test", "@dead.test", "--reason", "userunknown"),
           "suppress")
        r = ok(ctl(d, "check", "good@example.test"), "check ok")
        check(r[1] == "good@example.test: ok\n", r[1])
        r = ok(ctl(d, "check", "good@example.test", "Bad@Example.TEST"), "check mixed", 1)
        check(r[1].splitlines()[1].startswith("bad@example.test: suppressed manual userunknown "
                                               "since "), r[1])
        r = ok(ctl(d, "check", "x@dead.test"), "domain entry", 1)
        check("(domain entry @dead.test)" in r[1], r[1])
        r = ok(ctl(d, "check", "not-an-address", "good@example.test"), "invalid", 2)
        check("not-an-address" in r[2] and "good@example.test: ok" in r[1], r)
        r = ok(ctl(d, "check", "-q", "bad@example.test"), "quiet", 1)
        check(r[1] == "", r[1])
        r = ok(ctl(d, "check", "--json", "bad@example.test", "good@example.test"), "json", 1)
        j = json.loads(r[1])
        check(j[0]["state"] == "suppressed" and j[0]["class"] == "manual" and
              j[0]["reason"] == "userunknown" and j[0]["until"] is None and
              j[1] == {"address": "good@example.test", "state": "ok"}, j)
        # the admin socket's CHECK verb gives the same answers
        r = ok(ctl(d, "check", "bad@example.test", "good@example.test", how="socket"),
               "check via admin", 1)
        check(r[1].splitlines()[0].startswith("bad@example.test: suppressed manual") and
              r[1].splitlines()[1] == "good@example.test: ok", r[1])
        # many addresses on stdin, pipelined, in order
        addrs = ["user%05d@example.test" % i for i in range(3000)] + ["bad@example.test"]
        r = ok(ctl(d, "check", "-", stdin="# list\n\n" + "\n".join(addrs) + "\n"), "stdin", 1)
        lines = r[1].splitlines()
        check(len(lines) == 3001 and lines[0] == "user00000@example.test: ok" and
              lines[-1].startswith("bad@example.test: suppressed"), lines[-2:])
        # any local user may check (the query socket is 0666), as applications do
        if IS_ROOT:
            r = ok(ctl(d, "check", "bad@example.test", user="nobody"), "check as nobody", 1)
            check("suppressed" in r[1], r)


def case_show():
    """show: state, rule, events with evidence, audit; --raw gives the stored bytes."""
    with Daemon() as d:
        d.start()
        msg = dsn("shown@remote.test", msgid="<orig-42@app.test>")
        bid = deliver(d, msg)[0]
        ok(ctl(d, "suppress", "shown@remote.test", "--reason", "userunknown", "--note",
               "customer called"), "suppress")
        r = ok(ctl(d, "show", "Shown@Remote.TEST"), "show")
        out = r[1]
        for want in ("address         shown@remote.test", "state           suppressed: manual "
                     "userunknown", "events (newest first):", "hard userunknown",
                     "status 5.1.1", "Recipient address rejected: User unknown", "mx.lab.test",
                     "remote.test", "orig-42@app.test", "bounce %d kept" % bid,
                     "audit (oldest first):", "uid=0 (root)", "suppress -> manual userunknown",
                     "note: customer called"):
            check(want in out, "show lacks %r:\n%s" % (want, out))
        j = json.loads(ok(ctl(d, "show", "--json", "shown@remote.test"), "show json")[1])
        check(j["entry"]["state"] == "suppressed" and j["entry"]["class"] == "manual", j)
        ev = j["events"][0]
        check(ev["class"] == "hard" and ev["reason"] == "userunknown" and ev["status"] == "5.1.1"
              and ev["bounce"] == bid and "orig-42@app.test" in ev["message_id"] and
              ev["reporting_mta"] == "mx.lab.test" and ev["raw"] == 1, ev)
        check(j["audit"][0]["note"] == "customer called" and j["audit"][0]["action"] ==
              "suppress", j["audit"])
        # --raw: exactly what was stored (the message as delivered, dot-unstuffed)
        raw = subprocess.run([CTL, "show", "--config", d.config, "--raw", "shown@remote.test"],
                             capture_output=True).stdout
        want = dot_stuff(msg)
        check(raw in (want, want.replace(b"\r\n", b"\n")), "raw differs: %r" % raw[:200])
        raw2 = subprocess.run([CTL, "show", "--config", d.config, "--raw", "--bounce", str(bid)],
                              capture_output=True).stdout
        check(raw2 == raw, "--bounce ID")
        r = ok(ctl(d, "show", "--raw", "--bounce", "999999"), "unknown bounce", 1)
        r = ok(ctl(d, "show", "nobody@remote.test"), "unknown address", 1)
        check("not known" in r[2], r[2])
        r = ok(ctl(d, "explain", "shown@remote.test"), "explain")
        check("events (newest first):" in r[1], r[1])


def case_list():
    """list: filters, pages with --limit/--after, --all, --json."""
    with Daemon() as d:
        d.start()
        lines = [EXPORT_HEADER]
        for i in range(250):
            cls, reason = [("hard", "userunknown"), ("complaint", "feedback"),
                           ("manual", "hostunknown")][i % 3]
            lines.append("u%03d@d%d.test,%s,%s,,2024-01-%02dT00:00:00Z,,lmtp" %
                         (i, i % 2, cls, reason, 1 + i % 28))
        ok(ctl(d, "import", "-", stdin="\n".join(lines) + "\n"), "import")
        r = ok(ctl(d, "list"), "list")
        rows = r[1].splitlines()
        check(rows[0].startswith("ADDRESS") and len(rows) == 101, len(rows))
        check("--after 'u099@d1.test'" in r[2], r[2])
        r = ok(ctl(d, "list", "--after", "u099@d1.test", "--limit", "10"), "page 2")
        rows = r[1].splitlines()[1:]
        check(len(rows) == 10 and rows[0].startswith("u100@d0.test ") and
              "--after 'u109@d1.test'" in r[2], (rows[:1], r[2]))
        r = ok(ctl(d, "list", "--all"), "all")
        check(len(r[1].splitlines()) == 251 and "-- 250 entries" in r[2], r[2])
        r = ok(ctl(d, "list", "--all", "--class", "complaint", "--domain", "d1.test"), "filter")
        rows = r[1].splitlines()[1:]
        check(len(rows) == 42 and all(" complaint " in x and "@d1.test" in x for x in rows),
              len(rows))
        r = ok(ctl(d, "list", "--all", "--reason", "hostunknown", "--since", "2024-01-10",
                   "--until", "2024-01-12"), "dates")
        rows = r[1].splitlines()[1:]
        check(rows and all("2024-01-1" in x and "hostunknown" in x for x in rows), rows)
        j = json.loads(ok(ctl(d, "list", "--json", "--limit", "5"), "json")[1])
        check(j["count"] == 5 and j["next"] == "u004@d0.test" and
              j["entries"][0]["address"] == "u000@d0.test" and
              j["entries"][0]["class"] == "hard", j)
        # a lifted entry is listed with --state all but not exported
        ok(ctl(d, "unsuppress", "u000@d0.test", "--note", "ok again"), "unsuppress")
        r = ok(ctl(d, "list", "--limit", "1"), "state all")
        check(" ok " in r[1].splitlines()[1], r[1])
        r = ok(ctl(d, "list", "--state", "suppressed", "--limit", "1"), "state suppressed")
        check(r[1].splitlines()[1].startswith("u001@d1.test"), r[1])


def case_export():
    """export: CSV (header, RFC 4180 quoting, CRLF), JSON, NDJSON, filters, --output."""
    with Daemon() as d:
        d.start()
        ok(ctl(d, "suppress", '"a,b c"@example.test', '"q\\"x"@example.test', "plain@example.test",
               "@dom.test", "--reason", "hostunknown", "--until", "2040-01-02T03:04:05Z"),
           "suppress")
        ok(ctl(d, "suppress", "forever@example.test"), "suppress")
        out = export(d)
        check(out.startswith(EXPORT_HEADER + "\r\n") and out.endswith("\r\n"), repr(out[:80]))
        rows = list(csv.reader(io.StringIO(out, newline="")))
        check(rows[0] == EXPORT_HEADER.split(","), rows[0])
        addrs = [r[0] for r in rows[1:]]
        check(addrs == ['"a,b c"@example.test', '"q\\"x"@example.test', "@dom.test",
                        "forever@example.test", "plain@example.test"], addrs)
        check('"""a,b c""@example.test"' in out, "RFC 4180 quoting: %r" % out)
        f = {r[0]: r for r in rows[1:]}
        check(f["plain@example.test"][1:] == ["manual", "hostunknown", "", f["plain@example.test"][4],
                                             "2040-01-02T03:04:05Z", "manual"], f)
        check(f["forever@example.test"][5] == "" and
              re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", f["forever@example.test"][4]), f)
        js = json.loads(export(d, "json"))
        check([o["address"] for o in js] == addrs and js[3]["until"] is None and
              js[3]["status"] is None and js[0]["until"] == "2040-01-02T03:04:05Z", js)
        nd = [json.loads(l) for l in export(d, "ndjson").splitlines()]
        check(nd == js, "ndjson == json")
        lf = export(d, "csv", "--lf")
        check(lf == out.replace("\r\n", "\n"), "--lf")
        r = export(d, "csv", "--domain", "dom.test")
        check(r.splitlines()[1:] == ["@dom.test,manual,hostunknown,,%s,2040-01-02T03:04:05Z,manual"
                                     % f["@dom.test"][4]], r)
        check(export(d, "csv", "--class", "hard").splitlines() == [EXPORT_HEADER], "empty")
        path = os.path.join(d.tmp, "out.csv")
        ok(ctl(d, "export", "--output", path), "--output")
        check(open(path, newline="").read() == out, "--output content")
        check(not [n for n in os.listdir(d.tmp) if ".tmp-" in n], "no temporary file left")
        r = ok(ctl(d, "export", "--output", "/nonexistent/dir/x.csv"), "bad output", 2)
        check("/nonexistent/dir/x.csv" in r[2], r[2])


def case_import_formats():
    """import: our export, plain lists, SES, Postmark, SendGrid; mapping per bouncectl(1)."""
    with Daemon() as d:
        d.start()
        r = ok(ctl(d, "import", "-", stdin="u1@old.test\nu2@old.test\n"), "plain without --reason", 2)
        check("--reason" in r[2], r[2])
        r = ok(ctl(d, "import", "-", "--reason", "userunknown", "--note", "old system",
                   stdin="# from the old system\naddress\nU1@Old.Test\n<u2@old.test>\n\n"
                         "@olddomain.test\n"), "plain")
        check("3 entries imported" in r[2], r[2])
        ses_bulk = "s1@ses.test,BOUNCE\ns2@ses.test, COMPLAINT\n"
        ok(ctl(d, "import", "-", stdin=ses_bulk), "ses bulk")
        ses_api = ("EmailAddress,Reason,LastUpdateTime\n"
                   "s3@ses.test,BOUNCE,2020-06-10T11:29:52.420000+02:00\n"
                   "s4@ses.test,COMPLAINT,1591781392\n")
        ok(ctl(d, "import", "-", stdin=ses_api), "ses api")
        ses_nd = '{"emailAddress": "s5@ses.test", "reason": "BOUNCE"}\n'
        ok(ctl(d, "import", "-", stdin=ses_nd), "ses ndjson")
        pm = ("\ufeffEmail Address,Suppression Reason,Origin,Created At\n"
              "p1@pm.test,HardBounce,Recipient,2019-12-17T08:58:33-05:00\n"
              "p2@pm.test,SpamComplaint,Recipient,2019-12-17T08:58:33-05:00\n"
              "p3@pm.test,ManualSuppression,Customer,2019-12-17T08:58:33-05:00\n")
        ok(ctl(d, "import", "-", stdin=pm), "postmark")
        sg_bounces = ('email,created,status,reason\n'
                      'g1@sg.test,1563302400,5.1.1,"550 5.1.1 The email account that you tried '
                      'to reach does not exist."\n'
                      'g2@sg.test,1563302400,5.7.1,"550 5.7.1 Service unavailable; Client host '
                      '[192.0.2.1] blocked using Spamhaus"\n'
                      'g3@sg.test,1563302400,4.2.2,"452 4.2.2 mailbox full"\n')
        r = ok(ctl(d, "import", "-", stdin=sg_bounces), "sendgrid bounces")
        check("stdin:3: skipped: blocked (sender scope)" in r[2] and
              "stdin:4: skipped: status 4.2.2 is temporary" in r[2] and
              "1 entries imported" in r[2], r[2])
        ok(ctl(d, "import", "-", stdin="email,created,ip\ng4@sg.test,1563302400,192.0.2.9\n"),
           "sendgrid spam reports")
        ok(ctl(d, "import", "-", stdin="email,created\ng5@sg.test,2019-07-17 10:00:00\n"),
           "sendgrid unsubscribes")
        got = {r[0]: r[1:] for r in csv.reader(io.StringIO(export(d), newline=""))}
        want = {
            "u1@old.test": ["import", "userunknown", "", None, "", "import"],
            "@olddomain.test": ["import", "userunknown", "", None, "", "import"],
            "s1@ses.test": ["hard", "undefined", "", None, "", "ses"],
            "s2@ses.test": ["complaint", "feedback", "", None, "", "ses"],
            "s3@ses.test": ["hard", "undefined", "", "2020-06-10T09:29:52Z", "", "ses"],
            "s4@ses.test": ["complaint", "feedback", "", "2020-06-10T09:29:52Z", "", "ses"],
            "s5@ses.test": ["hard", "undefined", "", None, "", "ses"],
            "p1@pm.test": ["hard", "undefined", "", "2019-12-17T13:58:33Z", "", "postmark"],
            "p2@pm.test": ["complaint", "feedback", "", "2019-12-17T13:58:33Z", "", "postmark"],
            "p3@pm.test": ["manual", "undefined", "", "2019-12-17T13:58:33Z", "", "postmark"],
            "g1@sg.test": ["hard", "userunknown", "5.1.1", "2019-07-16T18:40:00Z", "", "sendgrid"],
            "g4@sg.test": ["complaint", "feedback", "", "2019-07-16T18:40:00Z", "", "sendgrid"],
            "g5@sg.test": ["manual", "undefined", "", "2019-07-17T10:00:00Z", "", "sendgrid"],
        }
        for a, w in want.items():
            check(a in got, "%s not imported: %s" % (a, sorted(got)))
            g = list(got[a])
            if w[3] is None:
                g[3] = None
            check(g == w, "%s: got %s want %s" % (a, g, w))
        for a in ("u2@old.test", "g2@sg.test", "g3@sg.test"):
            check((a in got) == (a == "u2@old.test"), a)
        # the audit log names the import and keeps the note
        r = ok(ctl(d, "audit", "u1@old.test"), "audit")
        check("import:stdin" in r[1] and "note: old system" in r[1], r[1])
        r = ok(ctl(d, "audit", "p3@pm.test", "--json"), "audit json")
        check(json.loads(r[1])[0]["note"] == "postmark: ManualSuppression by Customer", r[1])


def case_import_errors():
    """Bad lines: reported with their line numbers and skipped (exit 1); --strict
    imports nothing; --dry-run imports nothing; a progress line when asked."""
    with Daemon() as d:
        d.start()
        text = (EXPORT_HEADER + "\n"
                "ok1@x.test,hard,userunknown,5.1.1,2024-01-01T00:00:00Z,,lmtp\n"
                "broken-address,hard,userunknown,,2024-01-01T00:00:00Z,,lmtp\n"
                "ok2@x.test,hard,nosuchreason,,2024-01-01T00:00:00Z,,lmtp\n"
                "ok3@x.test,hard,userunknown,9.9.9,2024-01-01T00:00:00Z,,lmtp\n"
                "ok4@x.test,hard,userunknown,,not-a-date,,lmtp\n"
                "ok5@x.test,hard,userunknown,,2024-01-01T00:00:00Z\n"
                "\"ok6@x.test\nstill\",hard,userunknown,,2024-01-01T00:00:00Z,,lmtp\n"
                "ok7@x.test,hard,userunknown,,2024-01-01T00:00:00Z,,lmtp\n")
        path = os.path.join(d.tmp, "bad.csv")
        with open(path, "w") as f:
            f.write(text)
        r = ok(ctl(d, "import", path, "--strict"), "strict", 1)
        check("nothing imported (--strict)" in r[2], r[2])
        check(export(d).splitlines() == [EXPORT_HEADER], "strict imported something")
        r = ok(ctl(d, "import", "-", "--strict", stdin=text), "strict stdin", 1)
        check(export(d).splitlines() == [EXPORT_HEADER], "strict (stdin) imported something")
        r = ok(ctl(d, "import", path, "--dry-run"), "dry run", 1)
        check("2 entries would be imported, 6 bad lines" in r[2], r[2])
        check(export(d).splitlines() == [EXPORT_HEADER], "dry run imported something")
        r = ok(ctl(d, "import", path, "--progress"), "skip bad lines", 1)
        err = r[2]
        for want in ("bad.csv:3: bad line: no '@' in the address",
                     "bad.csv:4: bad line: unknown reason \"nosuchreason\"",
                     "bad.csv:5: bad line: invalid status \"9.9.9\"",
                     "bad.csv:6: bad line: invalid time \"not-a-date\"",
                     "bad.csv:7: bad line: 5 columns where the header has 7",
                     "bad.csv:8: bad line:", "importing", "2 entries imported, 6 bad lines"):
            check(want in err, "stderr lacks %r:\n%s" % (want, err))
        rows = export(d).splitlines()
        check([x.split(",")[0] for x in rows[1:]] == ["ok1@x.test", "ok7@x.test"], rows)
        r = ok(ctl(d, "import", "/nonexistent.csv"), "missing file", 2)
        check("/nonexistent.csv" in r[2], r[2])
        r = ok(ctl(d, "import", "-", stdin="a,b,c\n1,2,3\n"), "unknown format", 1)
        check("--format" in r[2], r[2])
        r = ok(ctl(d, "import", "-", "--json", "--reason", "undefined",
                   stdin="x1@y.test\nnope\n"), "json summary", 1)
        check(json.loads(r[1])["imported"] == 1 and json.loads(r[1])["bad_lines"] == 1, r[1])


def case_suppress_unsuppress():
    """suppress/unsuppress: audited with uid, time and note; exit 1 when nothing to lift."""
    with Daemon() as d:
        d.start()
        r = ok(ctl(d, "suppress", "Man@Example.test", "--reason", "userunknown", "--until", "30d",
                   "--note", "asked by customer"), "suppress")
        check(r[1].startswith("suppressed man@example.test (manual userunknown, until 20"), r[1])
        check(d.check("man@example.test").startswith("SUPPRESSED manual userunknown ") and
              " until=" in d.check("man@example.test"), "query socket")
        ok(ctl(d, "suppress", "@blocked.test", "--json"), "domain")
        check("entry=domain" in d.check("anyone@blocked.test"), "domain entry")
        ok(ctl(d, "suppress", "x@y.test", "--reason", "nosuch"), "bad reason", 2)
        ok(ctl(d, "suppress", "x@y.test", "--until", "tomorrow-ish"), "bad until", 2)
        r = ok(ctl(d, "unsuppress", "man@example.test"), "no note", 2)
        check("--note" in r[2], r[2])
        r = ok(ctl(d, "unsuppress", "man@example.test", "--note", "works again"), "unsuppress")
        check(r[1] == "lifted the suppression of man@example.test\n", r[1])
        check(d.check("man@example.test") == "OK", "lifted")
        r = ok(ctl(d, "unsuppress", "man@example.test", "--note", "again"), "nothing", 1)
        r = ok(ctl(d, "unsuppress", "@blocked.test", "--note", "domain back", "--json"), "json")
        check(json.loads(r[1]) == [{"target": "@blocked.test", "lifted": True}], r[1])
        r = ok(ctl(d, "audit", "man@example.test", "--json"), "audit")
        a = json.loads(r[1])
        check([x["action"] for x in a] == ["suppress", "unsuppress", "unsuppress"] and
              a[0]["note"] == "asked by customer" and a[1]["note"] == "works again" and
              a[0]["actor"] == "uid=0 (root)" and a[1]["class"] == "none", a)


def case_forget():
    """forget: prints what was deleted; the address text is gone, the suppression stays."""
    with Daemon() as d:
        d.start()
        deliver(d, dsn("gdpr@remote.test"), dsn("gdpr@remote.test", msgid="<orig-2@app.test>"))
        ok(ctl(d, "suppress", "gdpr@remote.test", "--note", "x"), "suppress")
        r = ok(ctl(d, "forget", "gdpr@remote.test"), "forget")
        check(re.match(r"^forgot gdpr@remote.test: deleted 2 events and 2 raw bounces, erased the "
                       r"address from \d+ audit entries; it stays suppressed through a keyed hash",
                       r[1]), r[1])
        check(d.check("gdpr@remote.test").startswith("SUPPRESSED"), "still suppressed")
        out = export(d)
        check("gdpr@remote.test" not in out and "hmac:" in out, out)
        r = ok(ctl(d, "show", "gdpr@remote.test"), "show after forget")
        check("gdpr@remote.test" not in r[1] and "hmac:" in r[1], r[1])
        r = ok(ctl(d, "forget", "never@remote.test"), "unknown", 1)
        check("nothing to forget" in r[1], r[1])
        r = ok(ctl(d, "forget", "--json", "never@remote.test"), "json", 1)
        check(json.loads(r[1])[0]["forgotten"] is False, r[1])


def parse_prometheus(text):
    """A strict reading of the text exposition format: every family has HELP
    and TYPE before its samples, names and labels are well formed, values are
    numbers.  Returns {(name, labels): value}."""
    samples, typed, seen_fam = {}, {}, set()
    name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    label_re = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
    for line in text.splitlines():
        if line.startswith("# HELP "):
            m = re.match(r"^# HELP (%s) \S.*$" % name_re, line)
            check(m, "bad HELP: %r" % line)
            check(m.group(1) not in seen_fam, "family %s twice" % m.group(1))
            continue
        if line.startswith("# TYPE "):
            m = re.match(r"^# TYPE (%s) (counter|gauge|histogram)$" % name_re, line)
            check(m, "bad TYPE: %r" % line)
            typed[m.group(1)] = m.group(2)
            seen_fam.add(m.group(1))
            continue
        m = re.match(r"^(%s)(\{(.*)\})? (-?[0-9.e+]+|\+Inf)$" % name_re, line)
        check(m, "bad sample line: %r" % line)
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if base != name and typed.get(base) == "histogram":
            name = base
        check(name in typed, "sample before its TYPE: %r" % line)
        if typed[name] == "counter":
            check(name.endswith("_total"), "counter %s without _total" % name)
        labels = ()
        if m.group(3):
            parts = re.findall(label_re, m.group(3))
            check(",".join('%s="%s"' % p for p in parts) == m.group(3), "labels: %r" % line)
            labels = tuple(parts)
        float(m.group(4))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def bounce_mix(d):
    deliver(d, dsn("hard1@example.net"), dsn("hard2@example.net", msgid="<o2@app.test>"),
            dsn("full@yahoo.com", status="4.2.2", action="delayed",
                diag="452 4.2.2 <%(r)s>: Mailbox full"),
            dsn("jean@wanadoo.fr", status="5.7.1",
                diag="550 5.7.1 Service refused, please contact abuse. Your IP 192.0.2.1 is "
                     "blocked (OFR_999)"),
            dsn("marie@orange.fr", status="5.7.1", msgid="<o3@app.test>",
                diag="550 5.7.1 Service refused, please contact abuse. Your IP 192.0.2.1 is "
                     "blocked (OFR_999)"))


def case_stats():
    """stats: counts by class/reason/scope/domain, soft per provider, the open incident
    named after its group, --json, --prometheus (validated)."""
    with Daemon({"policy": ORANGE}) as d:
        d.start()
        bounce_mix(d)
        r = ok(ctl(d, "stats"), "stats")
        out = r[1]
        for want in ("5 bounces, 5 recipients", "hard 2", "soft 3", "userunknown 2",
                     "mailboxfull 1", "blocked 2", "sender 2", "address 3", "   2  example.net",
                     "   1  yahoo.com",
                     "blocked by orange (orange.fr/wanadoo.fr/laposte.net/sfr.fr) since 20",
                     "2 failures", "OFR_999", "lmtp_sessions=0"):
            check(want in out, "stats lacks %r:\n%s" % (want, out))
        j = json.loads(ok(ctl(d, "stats", "--json"), "json")[1])
        check(j["bounces"] == 5 and j["by_class"] == {"hard": 2, "soft": 3} and
              j["suppressed"]["hard"] == 2 and j["by_domain"]["example.net"] == 2 and
              j["incidents"][0]["provider"] == "orange" and j["incidents"][0]["count"] == 2 and
              j["incidents"][0]["text"].startswith("blocked by orange (orange.fr/"), j)
        check(j["daemon"]["bounces"] == 5, j["daemon"])
        # a period with nothing in it
        r = ok(ctl(d, "stats", "--since", "2001-01-01", "--until", "2001-02-01"), "old period")
        check("0 bounces, 0 recipients" in r[1], r[1])
        p = parse_prometheus(ok(ctl(d, "stats", "--prometheus"), "prometheus")[1])
        check(p[("bounced_lmtp_messages_total", (("result", "stored"),))] == 5, p)
        check(p[("bounced_events", (("class", "hard"),))] == 2, p)
        check(p[("bounced_suppressed", (("class", "hard"),))] == 2, p)
        check(p[("bounced_domain_failures", (("domain", "example.net"),))] == 2, p)
        check(p[("bounced_incident_open", (("provider", "orange"), ("reason", "blocked")))] == 1, p)
        check(("bounced_build_info", (("version", re.search(r"version=(\S+)", out).group(1)),))
              in p, "build info")
        # without a config naming the group: the provider name alone
        r = ok(ctl(d, "incidents", how="socket"), "incidents via socket")
        check(r[1].startswith("blocked by orange since "), r[1])
        r = ok(ctl(d, "incidents", "--all", "--json"), "incidents json")
        check(json.loads(r[1])[0]["open"] is True, r[1])


def case_reevaluate():
    """reevaluate: the current policy over the stored bounces; --dry-run changes nothing."""
    pol = "  soft:\n    threshold: 3\n"
    with Daemon({"policy": pol}) as d:
        d.start()
        deliver(d, dsn("full@yahoo.com", status="4.2.2", action="delayed",
                       diag="452 4.2.2 <%(r)s>: Mailbox full"))
        check(d.check("full@yahoo.com") == "OK", "one soft bounce does not suppress")
        r = ok(ctl(d, "reevaluate", "--dry-run"), "nothing to change")
        check(r[1] == "0 addresses would change (dry run: nothing applied)\n", r[1])
        # the policy changes: one soft bounce is now enough
        text = open(d.config).read().replace("    threshold: 3\n",
                                             "    threshold: 1\n    min_span: 0s\n")
        d.write_config(text)
        d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not d.grep("reload") and time.time() < deadline:
            time.sleep(0.05)
        r = ok(ctl(d, "reevaluate", "--dry-run"), "dry run")
        check(r[1] == "full@yahoo.com: none/undefined -> soft/mailboxfull\n"
              "1 address would change (dry run: nothing applied)\n", r[1])
        check(d.check("full@yahoo.com") == "OK", "dry run applied something")
        j = json.loads(ok(ctl(d, "reevaluate", "--json"), "apply")[1])
        check(j == {"dry_run": False, "changes": [{"address": "full@yahoo.com",
                                                   "before": "none/undefined",
                                                   "after": "soft/mailboxfull"}],
                    "changed": 1}, j)
        check(d.check("full@yahoo.com").startswith("SUPPRESSED soft mailboxfull"), "applied")
        r = ok(ctl(d, "audit", "full@yahoo.com"), "audited")
        check("reevaluate" in r[1], r[1])


def case_admin_denied():
    """A uid not in admin.allow_uids is refused (exit 4) and changes nothing; it may
    still check through the query socket."""
    if not IS_ROOT:
        skip("needs root to run bouncectl as another uid")
    # the socket open to all, so the refusal comes from SO_PEERCRED, not the file mode
    with Daemon({"admin": "  mode: \"0666\"\n"}) as d:
        d.start()
        ok(ctl(d, "suppress", "known@x.test"), "root may")
        for args in (["suppress", "victim@x.test"], ["unsuppress", "known@x.test", "--note", "x"],
                     ["forget", "known@x.test"], ["reevaluate"], ["list"], ["export"],
                     ["show", "known@x.test"], ["stats"],
                     ["import", "-", "--reason", "undefined"]):
            r = ctl(d, *args, user="nobody", how="socket",
                    stdin="victim@x.test\n" if args[0] == "import" else None)
            check(r[0] == 4, "%s as nobody: exit %d, want 4: %s" % (args, r[0], r[2]))
            check("uid 65534 is not in admin.allow_uids" in r[2], r[2])
        check(d.check("victim@x.test") == "OK", "nothing suppressed")
        check(d.check("known@x.test").startswith("SUPPRESSED"), "nothing lifted")
        r = ok(ctl(d, "check", "known@x.test", user="nobody"), "check as nobody", 1)
        check(d.grep("event=admin_refused uid=65534"), "refusals logged")
    # the default mode 0600, bounced running as "daemon": the socket file itself
    # is closed to other users
    with Daemon(user="daemon") as d:
        d.start()
        r = ctl(d, "suppress", "victim@x.test", user="nobody", how="socket")
        check(r[0] == 4 and "Permission denied" in r[2] and "admin.allow_uids" in r[2], r)


def share_secret(a, b):
    """Gives b the HMAC secret of a (before b starts)."""
    import pwd
    os.makedirs(b.state, mode=0o750, exist_ok=True)
    with open(os.path.join(a.state, "secret"), "rb") as f:
        key = f.read()
    path = os.path.join(b.state, "secret")
    with open(path, "wb") as f:
        f.write(key)
    os.chmod(path, 0o600)
    if b.user:
        pw = pwd.getpwnam(b.user)
        os.chown(b.state, pw.pw_uid, pw.pw_gid)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def case_store_error():
    """The store fails (locked by another process): changes exit 3 with the cause,
    an import says what may be stored; reads go on; a second import completes."""
    import sqlite3
    with Daemon({"store": "  busy_timeout_ms: 200\n"}) as d:
        d.start()
        ok(ctl(d, "suppress", "before@x.test"), "suppress")
        db = sqlite3.connect(os.path.join(d.state, "bounced.db"), timeout=5, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        r = ok(ctl(d, "suppress", "during@x.test"), "suppress while locked", 3)
        check("bounced's store failed" in r[2] and "lock" in r[2] and r[2].count("\n") == 1, r[2])
        lines = "\n".join("imp%05d@x.test" % i for i in range(2500)) + "\n"
        r = ok(ctl(d, "import", "-", "--reason", "userunknown", stdin=lines), "import locked", 3)
        check("store failed" in r[2] and "the import stopped" in r[2], r[2])
        r = ok(ctl(d, "export"), "export while locked")
        check("before@x.test" in r[1], r[1])
        db.execute("ROLLBACK")
        db.close()
        r = ok(ctl(d, "import", "-", "--reason", "userunknown", stdin=lines), "import again")
        check("2500 entries imported" in r[2], r[2])
        check(export(d).count("\r\n") == 2502, "every entry once")


def case_roundtrip_100k():
    """export -> import into a fresh database -> export: byte-identical, 100,000
    entries of every class, with expiries, statuses, domain and erased entries."""
    n = 100000
    classes = [("hard", "userunknown", "5.1.1", "lmtp"), ("soft", "mailboxfull", "4.2.2", "lmtp"),
               ("complaint", "feedback", "", "lmtp"), ("manual", "hostunknown", "", "manual"),
               ("import", "undefined", "", "import")]
    lines = [EXPORT_HEADER]
    for i in range(n - 2):
        c, r, s, src = classes[i % 5]
        lines.append("user%06d@d%03d.example,%s,%s,%s,2024-%02d-%02dT%02d:%02d:%02dZ,%s,%s" % (
            i, i % 997, c, r, s, 1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60,
            "" if i % 3 else "2031-%02d-01T00:00:00Z" % (1 + i % 12), src))
    lines.append('"""quoted, local""@example.test",manual,userunknown,,2024-05-01T00:00:00Z,,manual')
    lines.append("@whole-domain.example,manual,hostunknown,,2024-05-01T00:00:00Z,,manual")
    t0 = time.time()
    with Daemon() as a:
        a.start()
        ok(ctl(a, "import", "-", stdin="\n".join(lines) + "\n"), "import into A")
        ok(ctl(a, "forget", "user000007@d007.example"), "forget one")
        first = {f: export(a, f) for f in ("csv", "json", "ndjson")}
        rows = first["csv"].count("\r\n") - 1
        check(rows == n, "A exports %d rows, want %d" % (rows, n))
        check("hmac:" in first["csv"], "the erased entry is exported")
        t1 = time.time()
        with Daemon() as b:
            # erased entries are keyed by the HMAC secret: a migration copies it along
            share_secret(a, b)
            b.start()
            ok(ctl(b, "import", "-", stdin=first["csv"]), "import the CSV export into B")
            for f in ("csv", "json", "ndjson"):
                second = export(b, f)
                if second != first[f]:
                    fl, sl = first[f].splitlines(), second.splitlines()
                    diff = [(x, y) for x, y in zip(fl, sl) if x != y][:3]
                    fail("%s exports differ (%d vs %d lines): %r" % (f, len(fl), len(sl), diff))
            check(b.check("user000007@d007.example").startswith("SUPPRESSED"), "erased entry")
            check(b.check("x@whole-domain.example").startswith("SUPPRESSED"), "domain entry")
        with Daemon() as c:
            share_secret(a, c)
            c.start()
            ok(ctl(c, "import", "-", stdin=first["json"]), "import the JSON export into C")
            check(export(c, "csv") == first["csv"], "JSON import -> CSV export differs")
    print("100,000 entries: A %.1fs, B and C %.1fs (import, 3 exports, compare)" %
          (t1 - t0, time.time() - t1))


def case_big_stream():
    """A listing far bigger than the daemon's output buffer, read slowly by the
    consumer of bouncectl's output, arrives whole and in order."""
    with Daemon() as d:
        d.start()
        lines = ["s%06d@stream.test" % i for i in range(30000)]
        ok(ctl(d, "import", "-", "--reason", "userunknown", stdin="\n".join(lines) + "\n"),
           "import")
        p = subprocess.Popen([CTL, "export", "--config", d.config, "--format", "ndjson"],
                             stdout=subprocess.PIPE)
        got = 0
        for line in p.stdout:
            check(json.loads(line)["address"] == lines[got], "row %d out of order" % got)
            got += 1
            if got % 5000 == 0:
                time.sleep(0.1)
        check(p.wait() == 0 and got == 30000, "streamed %d rows" % got)


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}

if __name__ == "__main__":
    if not CTL or not os.access(CTL, os.X_OK):
        skip("BOUNCECTL_BIN is not set or not executable")
    run_case(CASES)
