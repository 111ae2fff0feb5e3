#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_examples.py - the client examples of examples/ against a real
bounced (`bounced --dir DIR`), an address suppressed with `bouncectl
suppress`.

    test_examples.py shell | python | php | python_api

Each example must answer "suppressed" for the suppressed address and "ok"
for another, "error" for a malformed one (the daemon's ERR), refuse an
address with a line break without sending it, keep the order of 300
pipelined addresses, and fail cleanly (exit 3, one line on stderr, nothing
on stdout, no traceback or PHP warning) when the daemon is missing or its
socket is stale.

Environment: BOUNCED_BIN, BOUNCECTL_BIN (meson sets them).  php: skipped
without php-cli; shell: skipped without socat.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "examples"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bouncedtest import check, run_case, skip  # noqa: E402

SUPPRESSED = "dead@example.com"
FINE = "alive@example.com"
BAD = "not-an-address"


class DirDaemon:
    """bounced --dir DIR, the way the README's quick start runs it."""

    def __init__(self):
        self.bin = os.environ.get("BOUNCED_BIN")
        self.ctl = os.environ.get("BOUNCECTL_BIN")
        if not self.bin or not self.ctl:
            skip("BOUNCED_BIN / BOUNCECTL_BIN not set")
        self.dir = tempfile.mkdtemp(prefix="bounced-ex-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "query.sock")
        self.log = open(os.path.join(self.dir, "bounced.log"), "wb")
        self.proc = subprocess.Popen([self.bin, "--dir", self.dir], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(self.dir, "admin.sock")):
            check(time.time() < deadline and self.proc.poll() is None, "bounced did not start")
            time.sleep(0.05)
        time.sleep(0.1)
        r = subprocess.run([self.ctl, "suppress", "--dir", self.dir, SUPPRESSED, "--reason",
                            "userunknown", "--note", "examples test"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "bouncectl suppress: %s %s" % (r.stdout, r.stderr))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            check(self.proc.wait(20) == 0, "bounced exit status")
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(argv, sock, *addrs):
    p = subprocess.run(argv + ["-s", sock] + list(addrs), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def exercise(name, argv):
    d = DirDaemon()
    try:
        rc, out, err = run(argv, d.sock, SUPPRESSED, FINE)
        lines = out.splitlines()
        check(rc == 1 and len(lines) == 2, "%s: rc %d out %r err %r" % (name, rc, out, err))
        check(lines[0].startswith(SUPPRESSED + " suppressed manual userunknown 20"), lines[0])
        check(lines[1] == FINE + " ok", lines[1])
        rc, out, err = run(argv, d.sock, FINE)
        check(rc == 0 and out == FINE + " ok\n" and err == "", "%s: ok only: %d %r %r"
              % (name, rc, out, err))
        # the daemon's ERR, reported, with the other answers in order
        rc, out, err = run(argv, d.sock, FINE, BAD, SUPPRESSED)
        lines = out.splitlines()
        check(rc == 2 and len(lines) == 3, "%s: ERR: %d %r %r" % (name, rc, out, err))
        check(lines[1].startswith(BAD + " error invalid address"), lines[1])
        check(lines[0] == FINE + " ok" and " suppressed " in lines[2], lines)
        # a line break is never sent (it would be a second request)
        rc, out, err = run(argv, d.sock, "x@example.com\nCHECK " + SUPPRESSED)
        check(rc == 2, "%s: newline: %d %r %r" % (name, rc, out, err))
        check(" suppressed " not in out, "%s: the line break was sent: %r" % (name, out))
        # 300 pipelined, in order
        many = ["u%d@example.org" % i for i in range(300)]
        many[150] = SUPPRESSED
        rc, out, err = run(argv, d.sock, *many)
        lines = out.splitlines()
        check(rc == 1 and len(lines) == 300, "%s: 300: %d %d lines %r" % (name, rc, len(lines),
                                                                          err))
        for i, (a, l) in enumerate(zip(many, lines)):
            want = " suppressed " if i == 150 else " ok"
            check(l.startswith(a + want), "%s: line %d: %r" % (name, i, l))
        # no daemon: a stale socket (killed), then no socket at all
        d.kill()
        for why, sock in (("stale socket", d.sock), ("no socket",
                                                     os.path.join(d.dir, "missing.sock"))):
            rc, out, err = run(argv, sock, FINE)
            check(rc == 3 and out == "", "%s: %s: rc %d out %r" % (name, why, rc, out))
            check(len(err.splitlines()) == 1 and "Traceback" not in err and "Warning" not in err
                  and sock in err, "%s: %s: stderr %r" % (name, why, err))
            print("%s, %s: %s" % (name, why, err.strip()))
        rc, out, err = run(argv, d.sock)
        check(rc == 2 and "usage" in err, "%s: usage: %d %r" % (name, rc, err))
    finally:
        d.close()


def case_shell():
    if not shutil.which("socat"):
        skip("socat is not installed")
    exercise("shell", ["sh", os.path.join(EXAMPLES, "bounced-check.sh")])


def case_python():
    exercise("python", [sys.executable, os.path.join(EXAMPLES, "bounced_check.py")])


def case_php():
    php = shutil.which("php")
    if not php:
        skip("php-cli is not installed")
    exercise("php", [php, "-d", "display_errors=stderr", "-d", "error_reporting=-1",
                     os.path.join(EXAMPLES, "bounced_check.php")])


def case_python_api():
    """The module as an application imports it."""
    sys.path.insert(0, EXAMPLES)
    import bounced_check as bc
    d = DirDaemon()
    try:
        with bc.Bounced(d.sock) as b:
            v = b.check([SUPPRESSED, FINE, BAD])
            check(v[SUPPRESSED].state == "suppressed" and v[SUPPRESSED].cause == "manual" and
                  v[SUPPRESSED].reason == "userunknown" and v[SUPPRESSED].until is None and
                  v[SUPPRESSED].since.endswith("Z"), v[SUPPRESSED])
            check(v[FINE].state == "ok" and v[BAD].state == "error", v)
            check(b.may_send(FINE) and not b.may_send(SUPPRESSED), "may_send")
        d.kill()
        try:
            bc.Bounced(d.sock)
            check(False, "no exception with a dead daemon")
        except bc.BouncedUnavailable as e:
            check(d.sock in str(e), str(e))
    finally:
        d.close()


if __name__ == "__main__":
    run_case({"shell": case_shell, "python": case_python, "php": case_php,
              "python_api": case_python_api})
