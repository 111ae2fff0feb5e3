# SPDX-License-Identifier: MIT
"""bouncedtest - helpers for the integration tests: start a real bounced on a
temporary directory, and speak LMTP, the query protocol, the socketmap and
the admin protocol to it over its real Unix sockets.

Python 3 standard library only.  The daemon binary comes from $BOUNCED_BIN
(meson sets it).  A test exits 77 to be counted as skipped.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(why):
    print("SKIP: " + str(why))
    sys.exit(SKIP)


def fail(why):
    print("FAIL: " + str(why))
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


def netstring(s):
    b = s.encode() if isinstance(s, str) else s
    return b"%d:%s," % (len(b), b)


class Daemon:
    """One bounced process on a fresh temporary directory.

    config: extra YAML appended to the generated config (sections may be
    given again only if not generated: pass whole sections in `sections`)."""

    def __init__(self, sections=None, user=None, state_dir=None):
        # as root, run as nobody like production runs as its own user
        if user is None and os.geteuid() == 0:
            user = "nobody"
        user = user or None     # "": no user: line
        self.bin = os.environ.get("BOUNCED_BIN")
        if not self.bin or not os.access(self.bin, os.X_OK):
            skip("BOUNCED_BIN is not set or not executable")
        self.tmp = tempfile.mkdtemp(prefix="bounced-it-")
        os.chmod(self.tmp, 0o755)
        self.run = os.path.join(self.tmp, "run")
        self.state = state_dir or os.path.join(self.tmp, "state")
        self.config = os.path.join(self.tmp, "bounced.yaml")
        self.log = os.path.join(self.tmp, "bounced.log")
        self.user = user
        secs = {
            "log": "  level: debug\n",
            "lmtp": "  socket: run/lmtp.sock\n  hostname: lmtp.test\n",
            "query": "  socket: run/query.sock\n",
            "socketmap": "  socket: run/socketmap.sock\n",
            "policy_service": "  socket: run/policy.sock\n",
            "admin": "  socket: run/admin.sock\n",
            "store": "  path: %s/bounced.db\n  secret_file: %s/secret\n" % (self.state, self.state),
        }
        # the tests feed unsigned bounces straight over LMTP: they count
        # (trust.mode any) unless a test sets its own trust section
        if "trust" not in (sections or {}):
            secs["trust"] = "  mode: any\n"
        for k, v in (sections or {}).items():
            secs[k] = secs.get(k, "") + v
        text = ""
        if user:
            text += "user: %s\n" % user
        for k, v in secs.items():
            text += "%s:\n%s" % (k, v)
        self.write_config(text)
        self.proc = None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def path(self, name):
        return os.path.join(self.run, name)

    def start(self, wait=True):
        self.starts = len(self.grep("event=started"))
        self.logf = open(self.log, "ab")
        # BOUNCED_WRAPPER="valgrind --error-exitcode=9 ..." runs the daemon under a tool
        wrapper = os.environ.get("BOUNCED_WRAPPER", "").split()
        self.proc = subprocess.Popen(wrapper + [self.bin, "--config", self.config],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        if timeout is None:
            timeout = 120 if os.environ.get("BOUNCED_WRAPPER") else 10
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("bounced exited with %d:\n%s" % (self.proc.returncode, self.read_log()))
            if len(self.grep("event=started")) > self.starts:
                return
            time.sleep(0.02)
        fail("bounced did not start:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def grep(self, needle):
        return [l for l in self.read_log().splitlines() if needle in l]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("bounced did not stop on SIGTERM within %ds" % timeout)

    def cleanup(self, check_exit=True):
        try:
            rc = self.stop()
            log = self.read_log()
            # a sanitizer build reports leaks and errors at exit: they fail the test
            if check_exit and ("Sanitizer" in log or "runtime error:" in log or
                               "ERROR SUMMARY: 0 errors" not in log and "== ERROR SUMMARY" in log):
                print(log[-6000:])
                fail("sanitizer report in the bounced log")
            if check_exit and rc not in (None, 0):
                print(log[-3000:])
                fail("bounced exited with %r" % rc)
        finally:
            if hasattr(self, "logf"):
                self.logf.close()
            if os.environ.get("KEEP_TMP"):
                print("kept " + self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        failed = False
        if exc[0] is not None and exc[0] is not SystemExit:
            print(self.read_log()[-4000:])
            failed = True
        elif exc[0] is SystemExit and exc[1].code not in (0, SKIP):
            print("---- bounced log (tail)\n" + self.read_log()[-4000:])
            failed = True
        self.cleanup(check_exit=not failed)
        return False

    # ---- the database, read with SQLite itself (never through bounced) ----
    def db_value(self, sql, args=()):
        """The first column of the first row of sql, or None."""
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.state, "bounced.db"),
                             uri=True, timeout=5)
        try:
            row = db.execute(sql, args).fetchone()
            return row[0] if row else None
        finally:
            db.close()

    def wait_db(self, sql, want, what, timeout=10):
        """Polls db_value(sql) until it equals want; fails naming what."""
        import sqlite3
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            try:
                got = self.db_value(sql)
            except sqlite3.Error:
                got = None
            if got == want:
                return
            time.sleep(0.05)
        fail("%s: got %r want %r\n%s" % (what, got, want, self.read_log()[-3000:]))

    # ---- clients ----
    def connect(self, name, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.path(name))
        return s

    def query(self, *lines):
        """CHECK lines -> reply lines (pipelined in one write)."""
        s = self.connect("query.sock")
        s.sendall(("".join(l + "\n" for l in lines)).encode())
        f = s.makefile("rb")
        out = [f.readline().decode().rstrip("\n") for _ in lines]
        s.close()
        return out

    def check(self, addr):
        return self.query("CHECK " + addr)[0]

    def smap(self, *reqs):
        s = self.connect("socketmap.sock")
        s.sendall(b"".join(netstring(r) for r in reqs))
        out = []
        buf = b""
        while len(out) < len(reqs):
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while b":" in buf:
                n, rest = buf.split(b":", 1)
                n = int(n)
                if len(rest) < n + 1:
                    break
                out.append(rest[:n].decode())
                buf = rest[n + 1:]
        s.close()
        return out

    def admin(self, line, sock=None):
        """One admin request -> (data lines, status line)."""
        s = sock or self.connect("admin.sock", timeout=60)
        s.sendall((line + "\n").encode())
        f = s.makefile("rb")
        data = []
        while True:
            l = f.readline().decode()
            if not l:
                return data, "(eof)"
            l = l.rstrip("\n")
            if l.startswith("+ "):
                data.append(l)
            else:
                if sock is None:
                    s.close()
                return data, l


def fields(line):
    """'+ a=1 b=x%20y' -> dict (percent-decoded)."""
    out = {}
    for tok in line.split(" ")[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = unquote(v)
    return out


def unquote(v):
    b = bytearray()
    i = 0
    while i < len(v):
        if v[i] == "%":
            b.append(int(v[i + 1:i + 3], 16))
            i += 3
        else:
            b += v[i].encode()
            i += 1
    return b.decode("utf-8", "replace")


class Lmtp:
    """A small LMTP client that reads whole (multi-line) replies."""

    def __init__(self, daemon, timeout=15):
        self.s = daemon.connect("lmtp.sock", timeout=timeout)
        self.f = self.s.makefile("rb")

    def reply(self):
        lines = []
        while True:
            l = self.f.readline().decode("utf-8", "replace")
            if not l:
                lines.append("(eof)")
                return lines
            lines.append(l.rstrip("\r\n"))
            if len(l) < 4 or l[3] != "-":
                return lines

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def send(self, data):
        self.s.sendall(data)

    def deliver(self, msg, rcpts=("bounces@bounce.test",), mail_from=""):
        """One transaction; returns the per-recipient replies after DATA."""
        r = self.cmd("MAIL FROM:<%s>" % mail_from)
        check(r[0].startswith("250"), "MAIL: %s" % r)
        for rc in rcpts:
            r = self.cmd("RCPT TO:<%s>" % rc)
            check(r[0].startswith("250"), "RCPT: %s" % r)
        r = self.cmd("DATA")
        check(r[0].startswith("354"), "DATA: %s" % r)
        self.s.sendall(dot_stuff(msg) + b".\r\n")
        return [self.reply()[0] for _ in rcpts]

    def close(self):
        self.s.close()


def dot_stuff(msg):
    if isinstance(msg, str):
        msg = msg.encode()
    lines = msg.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)


def lmtp_session(daemon):
    c = Lmtp(daemon)
    g = c.reply()
    check(g[0].startswith("220 "), "greeting: %s" % g)
    r = c.cmd("LHLO test.client")
    check(r[-1].startswith("250 "), "LHLO: %s" % r)
    return c


def deliver_ok(daemon, *msgs, rcpts=("bounces@bounce.test",)):
    """Delivers each message over one fresh LMTP session, checking that every
    recipient is answered 250; returns the replies of each message."""
    c = lmtp_session(daemon)
    out = []
    for m in msgs:
        r = c.deliver(m, rcpts=rcpts)
        check(all(x.startswith("250 ") for x in r), "LMTP: %r" % r)
        out.append(r)
    c.close()
    return out


def dsn(rcpt, status="5.1.1", diag="550 5.1.1 <%(r)s>: Recipient address rejected: User unknown",
        action="failed", msgid="<orig-1@app.test>", extra=""):
    """A Postfix-style RFC 3464 delivery status notification."""
    d = diag % {"r": rcpt}
    return ("""Return-Path: <>
From: MAILER-DAEMON@mx.lab.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@bounce.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="BOUNDARY"
Message-Id: <dsn-%(id)s@mx.lab.test>
%(extra)s
This is a MIME-encapsulated message.

--BOUNDARY
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.lab.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<%(r)s>: host 127.0.0.1[127.0.0.1] said: %(d)s (in reply to RCPT TO command)

--BOUNDARY
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.lab.test
X-Postfix-Queue-ID: 4ABCDEF
Arrival-Date: Mon,  1 Jan 2024 12:00:00 +0000 (UTC)

Final-Recipient: rfc822; %(r)s
Original-Recipient: rfc822;%(r)s
Action: %(a)s
Status: %(s)s
Remote-MTA: dns; remote.test
Diagnostic-Code: smtp; %(d)s

--BOUNDARY
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: app@bounce.test
To: %(r)s
Subject: hello
Message-Id: %(m)s

--BOUNDARY--
""" % {"r": rcpt, "d": d, "a": action, "s": status, "m": msgid, "extra": extra,
       "id": abs(hash((rcpt, status, msgid, extra))) % 10**9})


def as_user(name, fn):
    """Runs fn() in a child process switched to user name; returns its exit
    status (fn's return value, 0-255)."""
    pw = pwd.getpwnam(name)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            code = fn()
        except BaseException as e:  # noqa: BLE001 - report everything from the child
            print("child: %r" % e)
            code = 99
        os._exit(code)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("Uid:"):
                return int(l.split()[1])
    return None


def start_as_nobody(d, dirs=()):
    """Starts d as nobody (uid and gid 65534) from the start, through setpriv
    in BOUNCED_WRAPPER: no root to drop, none to create its directories, so
    each of dirs is created first and given to nobody.  Skips without
    setpriv."""
    if not shutil.which("setpriv"):
        skip("no setpriv")
    for p in dirs:
        os.makedirs(p, exist_ok=True)
        os.chown(p, 65534, 65534)
    old = os.environ.get("BOUNCED_WRAPPER", "")
    os.environ["BOUNCED_WRAPPER"] = ("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                                     old).strip()
    try:
        d.start()
    finally:
        os.environ["BOUNCED_WRAPPER"] = old
    check(proc_uid(d.proc.pid) == 65534, "runs as nobody")


def run_case(cases):
    """main(): runs the case named on the command line."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: %s CASE\ncases: %s" % (sys.argv[0], " ".join(sorted(cases))))
        sys.exit(2)
    cases[sys.argv[1]]()
    print("PASS")
    sys.exit(0)
