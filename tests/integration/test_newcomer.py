#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_newcomer.py CASE - issue 15, what a newcomer meets in the first hour:
the database file after a clean stop, --check-config's refusals, bouncectl's
displays, forget of one recipient of several, VERP with two recipients, the
CSV import's quote errors, the sample bounce of examples/.  Each case starts a
real bounced (bouncedtest.Daemon) on a temporary directory.  meson registers
each case as one test (suite integration); $BOUNCED_BIN and $BOUNCECTL_BIN
name the binaries.
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bouncedtest import (Daemon, check, deliver_ok, dsn, fail, lmtp_session,  # noqa: E402
                         run_case, skip)

CTL = os.environ.get("BOUNCECTL_BIN", "")


def ctl(d, *args, stdin=None):
    """bouncectl VERB --config d.config ARGS -> (status, stdout, stderr)."""
    if not CTL or not os.access(CTL, os.X_OK):
        skip("BOUNCECTL_BIN is not set or not executable")
    cmd = [CTL, args[0], "--config", d.config] + list(args[1:])
    p = subprocess.run(cmd, input=stdin.encode() if stdin is not None else None,
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def db_file_alone():
    """After SIGTERM, bounced.db copied without its -wal and -shm holds
    every row the daemon acknowledged."""
    n = 40
    with Daemon() as d:
        d.start()
        deliver_ok(d, *[dsn("user%d@gone.test" % i, msgid="<m%d@app.test>" % i) for i in range(n)])
        rc = d.stop()
        check(rc == 0, "bounced exited with %r on SIGTERM" % rc)
        db = os.path.join(d.state, "bounced.db")
        wal = db + "-wal"
        check(not os.path.exists(wal) or os.path.getsize(wal) == 0,
              "after a clean stop the WAL still holds %d bytes" %
              (os.path.getsize(wal) if os.path.exists(wal) else 0))
        copy = tempfile.mkdtemp(prefix="bounced-copy-")
        try:
            shutil.copy(db, os.path.join(copy, "bounced.db"))
            check(sorted(os.listdir(copy)) == ["bounced.db"], "only the .db copied")
            con = sqlite3.connect("file:%s/bounced.db?mode=ro" % copy, uri=True)
            bounces = con.execute("SELECT count(*) FROM bounce").fetchone()[0]
            events = con.execute("SELECT count(*) FROM event").fetchone()[0]
            addrs = [r[0] for r in con.execute("SELECT address FROM addr ORDER BY address")]
            con.close()
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        check(bounces == n, "bounce rows in the copied file: got %d want %d" % (bounces, n))
        check(events == n, "event rows in the copied file: got %d want %d" % (events, n))
        want = sorted("user%d@gone.test" % i for i in range(n))
        check(addrs == want, "addr rows in the copied file: got %d want %d" % (len(addrs), n))


def check_config_system():
    """--check-config refuses a user or group that does not exist and a
    store.path whose directory is missing, naming file, line and key (the
    unit runs it before the daemon); the same file with them fixed passes."""
    d = Daemon(user="")
    try:
        bin_ = d.bin
        state = os.path.join(d.tmp, "state")

        def run(text):
            d.write_config(text)
            r = subprocess.run([bin_, "--check-config", "--config", d.config],
                               capture_output=True, text=True)
            return r.returncode, r.stderr.strip()

        base = "store:\n  path: %s/bounced.db\n  secret_file: %s/secret\n" % (state, state)
        rc, err = run("# a comment\nuser: nosuchuser\n" + base)
        check(rc == 78, "user: nosuchuser accepted (%d %s)" % (rc, err))
        check(err.endswith("bounced.yaml:2: user: no such user nosuchuser"), err)
        rc, err = run("lmtp:\n  group: nosuchgroup\n" + base)
        check(rc == 78 and err.endswith("bounced.yaml:2: lmtp.group: no such group nosuchgroup"),
              "lmtp.group: %d %s" % (rc, err))
        # not root, or root without user: nobody makes the directory
        missing = os.path.join(d.tmp, "no", "such", "dir")
        rc, err = run("store:\n  secret_file: %s/secret\n  path: %s/bounced.db\n" %
                      (state, missing))
        check(rc == 78, "store.path in a missing directory accepted (%d %s)" % (rc, err))
        check(("bounced.yaml:3: store.path: %s/bounced.db: the directory %s does not exist" %
               (missing, missing)) in err, err)
        os.makedirs(state)
        rc, err = run(base)
        check(rc == 0, "the fixed config: %d %s" % (rc, err))
        if os.geteuid() == 0:
            # as root with user: the daemon creates the state directory itself
            rc, err = run("user: nobody\nstore:\n  path: %s/bounced.db\n  secret_file: "
                          "%s/secret\n" % (missing, state))
            check(rc == 0, "root with user: and a directory it will create: %d %s" % (rc, err))
    finally:
        d.cleanup()


SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def sample_dsn():
    """examples/send-sample-dsn delivers examples/sample-dsn.eml over LMTP:
    250, and its recipient is suppressed hard; show labels the original
    message apart from the bounce's own subject."""
    with Daemon() as d:
        d.start()
        r = subprocess.run([os.path.join(SRC, "examples", "send-sample-dsn"), d.run],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and ": 250 2.0.0" in r.stdout,
              "send-sample-dsn: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        check(d.check("nobody@example.net").startswith("SUPPRESSED hard"),
              "the sample's recipient: %s" % d.check("nobody@example.net"))
        rc, out, err = ctl(d, "show", "nobody@example.net")
        check(rc == 0, "show: %d %s" % (rc, err))
        check("original     message-id news-2024-12@example.org  sender newsletter@example.org"
              in out, "show labels the original message:\n" + out)
        check("bounce       subject Undelivered Mail Returned to Sender" in out,
              "show labels the bounce's subject:\n" + out)
        rc, out, err = ctl(d, "stats")
        check(rc == 0, "stats: %d %s" % (rc, err))
        now = out.index("daemon, now")
        total = out.index("daemon, counts since it started")
        check(" lmtp_sessions=" in out[now:total] and " bounces=1 " in out[total:],
              "stats: gauges under 'now', totals apart:\n" + out)
        r = subprocess.run([os.path.join(SRC, "examples", "send-sample-dsn"),
                            os.path.join(d.tmp, "nothing")], capture_output=True, text=True)
        check(r.returncode == 1 and "is bounced running?" in r.stderr,
              "no daemon: %d %s" % (r.returncode, r.stderr))


def list_unsuppressed():
    """list --state all: an address tracked but never suppressed (a soft
    bounce below the threshold) shows '-' as since, not the epoch."""
    with Daemon() as d:
        d.start()
        deliver_ok(d, dsn("full@remote.test", status="4.2.2", action="delayed",
                       diag="452 4.2.2 <%(r)s>: mailbox full"),
                dsn("gone@remote.test"))
        rc, out, err = ctl(d, "list", "--state", "all")
        check(rc == 0, "list: %d %s" % (rc, err))
        check("1970-01-01" not in out, "the epoch shown:\n" + out)
        line = [l for l in out.splitlines() if l.startswith("full@remote.test")]
        check(line and line[0].split()[1] == "ok" and line[0].split()[5] == "-",
              "the tracked address: %r" % line)
        line = [l for l in out.splitlines() if l.startswith("gone@remote.test")]
        check(line and line[0].split()[1] == "suppressed" and line[0].split()[5][:2] == "20",
              "the suppressed address keeps its since: %r" % line)


def csv_quote():
    """CSV import: a stray quote names the line where it opened and how many
    lines it swallowed; the lines before it are imported."""
    with Daemon() as d:
        d.start()
        text = ("address,class,reason,status,since,until,source\n"
                "a@x.test,hard,userunknown,5.1.1,,,import\n"
                "b@x.test,hard,\"userunknown,5.1.1,,,import\n"
                "c@x.test,hard,userunknown,5.1.1,,,import\n"
                "d@x.test,hard,userunknown,5.1.1,,,import\n")
        path = os.path.join(d.tmp, "list.csv")
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = ctl(d, "import", path)
        check(rc != 0, "a bad line: non-zero exit (%d)" % rc)
        check("list.csv:3: bad line: the quote opening column 3 is never closed: the 3 lines "
              "from here to the end of the file were read as that one field" in err, err)
        check(d.check("a@x.test").startswith("SUPPRESSED"), "the line before it imported")


def socketmap_wording():
    """config.example.yaml quotes the socketmap's answers word for word: the
    daemon's answers for a hard userunknown address match them (the time
    aside)."""
    import re
    text = open(os.path.join(SRC, "config.example.yaml")).read()
    quoted = re.findall(r'^\s*#\s+"(OK [^"]*)"', text, re.M)
    check(len(quoted) == 2, "two quoted answers in config.example.yaml: %r" % quoted)
    with Daemon() as d:
        d.start()
        deliver_ok(d, dsn("gone@remote.test"))
        got = d.smap("suppressed gone@remote.test", "suppressed_transport gone@remote.test")
        ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
        for want, answer in zip(quoted, got):
            pattern = re.escape(re.sub(ts, "TIME", want)).replace("TIME", ts)
            check(re.fullmatch(pattern, answer),
                  "config.example.yaml says %r, the daemon answers %r" % (want, answer))


def verp_two():
    """Two VERP recipients in one LMTP transaction, a bounce naming nobody:
    each reply is 250 (stored, nothing lost) and says why no recipient was
    recovered; delivered one per transaction, each VERP address gives its
    own recipient.  A bounce that names its recipient keeps it."""
    prose = ("From: MAILER-DAEMON@old.mta\nTo: bounces@bounce.test\n"
             "Subject: failure notice\n\nHi. This is the qmail-send program.\n"
             "I'm afraid I wasn't able to deliver your message.\n\n"
             "Sorry, no mailbox here by that name. (#5.1.1)\n%s\n")
    a, b = "bounces+va=remote.test@bounce.test", "bounces+vb=remote.test@bounce.test"
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        r = c.deliver(prose % "one", rcpts=(a, b))
        for rcpt, line in zip((a, b), r):
            check(line.startswith("250 2.0.0 <%s> Ok: stored as bounce" % rcpt), line)
            check("recipient unknown: several VERP addresses in one transaction" in line, line)
        check(d.check("va@remote.test") == "OK" and d.check("vb@remote.test") == "OK",
              "nobody suppressed from an ambiguous envelope")
        check(d.grep("verp_ambiguous=1"), "logged")
        # one recipient per transaction (recipient_limit = 1): each its own
        for rcpt, who in ((a, "va"), (b, "vb")):
            r = c.deliver(prose % who, rcpts=(rcpt,))
            check(r[0].startswith("250 ") and "recipient unknown" not in r[0], r)
            check(d.check(who + "@remote.test").startswith("SUPPRESSED hard"),
                  "%s recovered: %s" % (who, d.check(who + "@remote.test")))
        # a DSN that names its recipient: that one, and a plain reply
        r = c.deliver(dsn("named@remote.test"), rcpts=(a, b))
        check(all(x.startswith("250 ") and "recipient unknown" not in x for x in r), r)
        check(d.check("named@remote.test").startswith("SUPPRESSED hard"), "the named one")
        c.close()


def two_rcpt_dsn(a, b):
    """One Postfix DSN naming two failed recipients."""
    m = dsn(a, msgid="<shared-1@app.test>")
    block = ("Final-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: failed\n"
             "Status: 5.1.1\nRemote-MTA: dns; remote.test\nDiagnostic-Code: smtp; 550 5.1.1 "
             "<%s>: Recipient address rejected: User unknown\n\n" % (b, b, b))
    head, sep, tail = m.partition("--BOUNDARY\nContent-Description: Undelivered Message Headers")
    return head + block + sep + tail


def forget_shared():
    """forget of one recipient of a bounce naming two: the other's event and
    raw evidence stay, with the forgotten address redacted from the raw; no
    byte of the forgotten address is left in the database file."""
    a, b = "gdpr-a@remote.test", "keep-b@remote.test"
    with Daemon() as d:
        d.start()
        deliver_ok(d, two_rcpt_dsn(a, b))
        check(d.check(a).startswith("SUPPRESSED hard") and d.check(b).startswith("SUPPRESSED"),
              "both suppressed")
        rc, out, err = ctl(d, "show", b)
        check(rc == 0 and "bounce 1 kept" in out, "b's evidence before: %s" % out)
        rc, out, err = ctl(d, "forget", a)
        check(rc == 0, "forget: %d %s %s" % (rc, out, err))
        check("deleted 1 events and 0 raw bounces, redacted it from 1 raw bounces kept as "
              "other recipients' evidence" in out, out)
        check(d.check(a).startswith("SUPPRESSED hard"), "a stays suppressed (hash)")
        rc, out, err = ctl(d, "show", b)
        check(rc == 0 and "bounce 1 kept" in out and "hard userunknown" in out,
              "b keeps its event and raw evidence: %s" % out)
        rc, raw, err = ctl(d, "show", "--raw", "--bounce", "1")
        check(rc == 0 and b in raw, "b's raw bounce is still there: %d %s" % (rc, err))
        check(a not in raw.lower() and "[erased]" in raw, "a redacted from the raw")
        rc, out, err = ctl(d, "show", a)
        check(a not in out or "not known" in (out + err), "a has nothing to show: %s" % out)
        d.stop()
        with open(os.path.join(d.state, "bounced.db"), "rb") as f:
            data = f.read()
        check(a.encode() not in data, "the address is still in bounced.db")
        check(b.encode() in data, "the other recipient is")


def log_hashed():
    """log.hash_addresses: true: no address of a bounce in the log, each as
    hmac: and the first 16 hex digits of HMAC-SHA256(secret, address), the
    prefix of the name forget keeps; false (default): the address is there."""
    import hashlib
    import hmac
    import sqlite3
    who = "hashme@remote.test"
    verp = "bounces+hashme=remote.test@bounce.test"
    with Daemon({"log": "  hash_addresses: true\n"}) as d:
        d.start()
        deliver_ok(d, dsn(who), rcpts=(verp,))
        secret = open(os.path.join(d.state, "secret"), "rb").read()
        h = "hmac:" + hmac.new(secret, who.encode(), hashlib.sha256).hexdigest()[:16]
        log = d.read_log()
        check("hashme" not in log, "the address in the log:\n" + log[-3000:])
        decision = d.grep("event=decision")
        check(decision and ('rcpt="%s"' % h) in decision[0] and h in decision[0].split("diag=")[1],
              "the decision names %s, in rcpt= and the diagnostic: %r" % (h, decision))
        check(d.grep("verp=%s " % h), "the VERP recipient hashed")
        rc, out, err = ctl(d, "forget", who)
        check(rc == 0, "forget: %s %s" % (out, err))
        d.stop()
        con = sqlite3.connect(os.path.join(d.state, "bounced.db"))
        names = [r[0] for r in con.execute("SELECT address FROM addr")]
        con.close()
        check(any(n.startswith(h) for n in names),
              "the erased entry's name starts with the log's hash: %r %s" % (names, h))
    with Daemon() as d:
        d.start()
        deliver_ok(d, dsn(who))
        check(d.grep('rcpt="%s"' % who), "by default the log names the address")


def root_warning():
    """Started as root without user:, the warning says what it means and
    what to do (keeps root while parsing mail; user: bounced in production)."""
    if os.geteuid() != 0:
        skip("needs root: the warning is about running as root")
    with Daemon(user="") as d:
        d.start()
        w = d.grep("warning=\"running as root")
        check(w and "keeps root while it parses mail from strangers" in w[0] and
              "set user: bounced" in w[0], "the root warning: %r" % w)


def dev_dir_sample():
    """The README's first command, `./dev run` = `bounced --dir DIR`: the
    sample bounce of examples/ suppresses its recipient out of the box (a
    development run trusts unsigned bounces, and says so at start)."""
    if not CTL or not os.access(CTL, os.X_OK):
        skip("BOUNCECTL_BIN is not set or not executable")
    tmp = tempfile.mkdtemp(prefix="bounced-devdir-")
    os.chmod(tmp, 0o755)
    log = open(os.path.join(tmp, "log"), "w+")
    p = subprocess.Popen([os.environ["BOUNCED_BIN"], "--dir", tmp], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(tmp, "lmtp.sock")) and \
                    os.path.exists(os.path.join(tmp, "admin.sock")):
                break
            time.sleep(0.05)
        r = subprocess.run([os.path.join(SRC, "examples", "send-sample-dsn"), tmp],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and ": 250 2.0.0" in r.stdout,
              "send-sample-dsn: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        c = subprocess.run([CTL, "check", "--dir", tmp, "nobody@example.net"],
                           capture_output=True, text=True, timeout=30)
        log.seek(0)
        text = log.read()
        check("suppressed hard" in c.stdout.lower() or "SUPPRESSED hard" in c.stdout,
              "bouncectl check: %d %s %s\n%s" % (c.returncode, c.stdout, c.stderr, text))
        check("event=trust_any" in text and "development run" in text,
              "the start says unsigned bounces count:\n" + text)
    finally:
        p.terminate()
        p.wait(timeout=30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


CASES = {
    "dev_dir_sample": dev_dir_sample,
    "root_warning": root_warning,
    "log_hashed": log_hashed,
    "forget_shared": forget_shared,
    "verp_two": verp_two,
    "socketmap_wording": socketmap_wording,
    "csv_quote": csv_quote,
    "sample_dsn": sample_dsn,
    "list_unsuppressed": list_unsuppressed,
    "check_config_system": check_config_system,
    "db_file_alone": db_file_alone,
}

if __name__ == "__main__":
    run_case(CASES)
