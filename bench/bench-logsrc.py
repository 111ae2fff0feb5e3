#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench-logsrc.py - bounced following Postfix's log (issue 16): lines/s
followed and the CPU it costs.  Prints figures; never fails on speed.

    BOUNCED_BIN=build/bounced/bounced bench/bench-logsrc.py

Generates realistic maillog traffic (per message: smtpd connect/client/
disconnect, cleanup message-id, qmgr from and removed, one smtp line per
recipient: 80% sent, 15% deferred with providers' replies, 5% bounced) and
  1. live: appends it at RATE lines/s (default 10000) for SECS seconds
     (default 20) while bounced follows the file; reports the lines followed
     per second, how far behind bounced was when the writing stopped, and
     bounced's CPU seconds (user + system, /proc) over the run;
  2. catch-up: CATCHUP lines (default 200000) written before bounced
     starts; reports how fast it reads them (its ceiling).
"""

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

RATE = int(os.environ.get("RATE", "10000"))
SECS = float(os.environ.get("SECS", "20"))
CATCHUP = int(os.environ.get("CATCHUP", "200000"))
TICK = 0.01
HZ = os.sysconf("SC_CLK_TCK")

DEFERRALS = [
    ("mx1.orange.fr", "421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to "
     "unexpected volume or user complaints"),
    ("smtp-in.orange.fr", "421 mwinf5c10 ME Service refuse. Veuillez essayer plus tard. OFR004_104"),
    ("mx.free.fr", "451 4.7.1 Greylisting in action, please come back later"),
    ("mx1.mail.example", "452 4.2.2 Mailbox full"),
    ("outlook-com.olc.protection.outlook.com", "451 4.7.650 The mail server [192.0.2.7] has been "
     "temporarily rate limited due to IP reputation."),
]
BOUNCES = [
    ("mx.gmx.example", "550 5.1.1 <%s>: Recipient address rejected: User unknown"),
    ("mx.laposte.example", "552 5.2.2 <%s>: Mailbox full (quota)"),
]


def traffic(n_msgs, t0, rng):
    """Lines of n_msgs messages, stamped from t0 on (10,000 lines/s of a busy server)."""
    out = []
    for i in range(n_msgs):
        qid = "%X" % rng.getrandbits(40)
        t = time.strftime("%b %e %H:%M:%S", time.localtime(t0 + i // 1000))
        pid = 1000 + i % 500
        out.append("%s mx postfix/smtpd[%d]: connect from app%d.example[192.0.2.%d]"
                   % (t, pid, i % 7, i % 250))
        out.append("%s mx postfix/smtpd[%d]: %s: client=app%d.example[192.0.2.%d]"
                   % (t, pid, qid, i % 7, i % 250))
        out.append("%s mx postfix/cleanup[%d]: %s: message-id=<%d.%s@app.example>"
                   % (t, pid + 1, qid, i, qid.lower()))
        out.append("%s mx postfix/qmgr[99]: %s: from=<news+%d@app.example>, size=%d, nrcpt=1 "
                   "(queue active)" % (t, qid, i % 13, 2000 + i % 5000))
        out.append("%s mx postfix/smtpd[%d]: disconnect from app.example[192.0.2.1] ehlo=1 "
                   "mail=1 rcpt=1 data=1 quit=1 commands=5" % (t, pid))
        rcpt = "user%d@%s" % (rng.randrange(200000), rng.choice(
            ["orange.fr", "free.fr", "gmail.com", "outlook.com", "laposte.net", "example.org"]))
        r = rng.random()
        head = "%s mx postfix/smtp[%d]: %s: to=<%s>, " % (t, pid + 2, qid, rcpt)
        if r < 0.80:
            out.append(head + "relay=mx.%s[198.51.100.%d]:25, delay=0.42, delays=0.01/0/0.2/0.21, "
                       "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %X)"
                       % (rcpt.split("@")[1], i % 250, rng.getrandbits(32)))
            out.append("%s mx postfix/qmgr[99]: %s: removed" % (t, qid))
        elif r < 0.95:
            host, text = rng.choice(DEFERRALS)
            out.append(head + "relay=%s[198.51.100.9]:25, delay=1.2, delays=0.1/0/0.6/0.5, "
                       "dsn=4.7.0, status=deferred (host %s[198.51.100.9] said: %s (in reply to "
                       "RCPT TO command))" % (host, host, text))
        else:
            host, text = rng.choice(BOUNCES)
            out.append(head + "relay=%s[198.51.100.8]:25, delay=0.3, delays=0.1/0/0.1/0.1, "
                       "dsn=5.1.1, status=bounced (host %s[198.51.100.8] said: %s (in reply to "
                       "RCPT TO command))" % (host, host, text % rcpt))
            out.append("%s mx postfix/qmgr[99]: %s: removed" % (t, qid))
    return out


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def position(db):
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        row = c.execute("SELECT offset FROM logpos").fetchone()
        c.close()
        return row[0] if row else 0
    except sqlite3.Error:
        return 0


def start_bounced(binary, d):
    cfg = os.path.join(d, "bounced.yaml")
    with open(os.path.join(d, "secret"), "wb") as f:
        f.write(os.urandom(32))
    os.chmod(os.path.join(d, "secret"), 0o600)
    with open(cfg, "w") as f:
        f.write("lmtp: { socket: \"%s/lmtp.sock\" }\nquery: { socket: \"%s/query.sock\" }\n"
                "socketmap: { socket: \"%s/sm.sock\" }\nadmin: { socket: \"%s/admin.sock\" }\n"
                "store: { path: \"%s/bounced.db\", secret_file: \"%s/secret\" }\n"
                "log: { to: stderr, level: %s }\n"
                "logsource: { type: file, path: \"%s/maillog\" }\n"
                % ((d,) * 6 + (os.environ.get("LOGLEVEL", "warn"), d)))
    log = open(os.path.join(d, "bounced.log"), "ab")
    p = subprocess.Popen([binary, "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return p


def wait_caught_up(db, size, timeout):
    deadline = time.monotonic() + timeout
    while position(db) < size:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def main():
    binary = os.environ.get("BOUNCED_BIN", "build/bounced/bounced")
    if not os.access(binary, os.X_OK):
        print("bench-logsrc: BOUNCED_BIN=%s is not an executable" % binary, file=sys.stderr)
        return 1
    rng = random.Random(16)
    d = tempfile.mkdtemp(prefix="bench-logsrc-")
    os.chmod(d, 0o755)
    log = os.path.join(d, "maillog")
    db = os.path.join(d, "bounced.db")
    p = None
    try:
        # 1. live, at RATE lines/s
        open(log, "w").close()
        p = start_bounced(binary, d)
        time.sleep(1.0)
        lines = traffic(int(RATE * SECS / 6.8) + 1000, time.time(), rng)
        c0, t0, i = cpu(p.pid), time.monotonic(), 0
        per_tick = max(1, int(RATE * TICK))
        with open(log, "a") as f:
            while i < len(lines) and time.monotonic() - t0 < SECS:
                due = int((time.monotonic() - t0) * RATE)
                if due > i:
                    f.write("".join(x + "\n" for x in lines[i:min(due, len(lines))]))
                    f.flush()
                    i = min(due, len(lines))
                time.sleep(TICK if per_tick else 0)
        t_end = time.monotonic()
        size = os.path.getsize(log)
        behind = size - position(db)
        ok = wait_caught_up(db, size, 120)
        t_caught = time.monotonic()
        c1 = cpu(p.pid)
        print("live: %d lines written in %.1f s (%.0f lines/s); followed %.0f lines/s; "
              "%d bytes behind when the writing stopped, caught up %.2f s later%s; "
              "bounced CPU %.2f s (%.1f%% of one core)"
              % (i, t_end - t0, i / (t_end - t0), i / (t_caught - t0), behind,
                 t_caught - t_end, "" if ok else " (NOT caught up in 120 s)", c1 - c0,
                 100.0 * (c1 - c0) / (t_caught - t0)))
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        p = None

        # 2. catch-up: a backlog read at full speed
        os.remove(db)
        for ext in ("-wal", "-shm"):
            if os.path.exists(db + ext):
                os.remove(db + ext)
        backlog = traffic(int(CATCHUP / 6.8), time.time(), rng)
        with open(log, "w") as f:
            f.write("".join(x + "\n" for x in backlog))
        size = os.path.getsize(log)
        p = start_bounced(binary, d)
        t0, c0 = time.monotonic(), cpu(p.pid)
        ok = wait_caught_up(db, size, 300)
        dt = time.monotonic() - t0
        c1 = cpu(p.pid)
        print("catch-up: %d lines (%.1f MB) read in %.2f s: %.0f lines/s%s; bounced CPU %.2f s"
              % (len(backlog), size / 1e6, dt, len(backlog) / dt, "" if ok else " (NOT done)",
                 c1 - c0))
        return 0
    finally:
        if p is not None:
            p.kill()
            p.wait()
        if os.environ.get("KEEP"):
            print("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
