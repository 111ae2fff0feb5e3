#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_logs.py - bounced's logs as journald and syslog read them.

    test_logs.py syslog        log.to: syslog.  bounced runs in a private mount
                               namespace (unshare -m) where /dev/log is this
                               test's datagram socket (the machine's /dev is
                               untouched); the lines must carry facility mail,
                               the priority of their level, ident bounced[pid];
                               nothing on stderr.  Root only (mount).
    test_logs.py sighup_level  log.level changed in the file + SIGHUP: debug
                               lines appear and disappear without a restart
                               (stderr, what journald reads: "LEVEL: event=...")

Environment: BOUNCED_BIN (meson sets it).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bouncedtest import Daemon, check, dsn, lmtp_session, run_case, skip  # noqa: E402

FACILITY_MAIL = 2
SEVERITY = {"err": 3, "warning": 4, "info": 6, "debug": 7}
SYSLOG_RE = re.compile(r"^<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) bounced\[(\d+)\]: (.*)$")

# Run inside `unshare -m`: a tmpfs over /dev holding the few devices a
# process needs and, as /dev/log, the test's socket (bind mounts).
NS_SCRIPT = r"""
set -eu
T=$1; shift
mount --make-rprivate /
mkdir -p "$T/dev"
mount -t tmpfs -o mode=0755 tmpfs "$T/dev"
for n in null zero full random urandom; do
    touch "$T/dev/$n"
    mount --bind "/dev/$n" "$T/dev/$n"
done
touch "$T/dev/log"
mount --bind "$T/syslog.sock" "$T/dev/log"
mount --rbind "$T/dev" /dev
exec "$@"
"""


def case_syslog():
    if os.geteuid() != 0:
        skip("needs root (a private mount namespace with its own /dev/log)")
    if not shutil.which("unshare"):
        skip("unshare (util-linux) is not installed")
    # The sandbox needs a private mount namespace; unshare makes / private
    # first, which fails where / is not a mount point (a chroot): say so.
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        skip("cannot make a private mount namespace here: unshare -m: %s" %
             (r.stderr.strip() or "exit %d" % r.returncode))
    with Daemon({"log": "  to: syslog\n", "lmtp": "  max_connections: 1\n"}) as d:
        sock_path = os.path.join(d.tmp, "syslog.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(sock_path)
        os.chmod(sock_path, 0o666)
        rx.settimeout(0.2)
        script = os.path.join(d.tmp, "ns.sh")
        with open(script, "w") as f:
            f.write(NS_SCRIPT)
        d.logf = open(d.log, "ab")
        d.starts = 0
        d.proc = subprocess.Popen(["unshare", "-m", "sh", script, d.tmp, d.bin, "--config",
                                   d.config], stdout=d.logf, stderr=subprocess.STDOUT)
        lines = []

        def drain(until=None, timeout=10):
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    lines.append(rx.recv(65536).decode("utf-8", "replace"))
                except socket.timeout:
                    if until is None:
                        return
                if until is not None and any(until in l for l in lines):
                    return
                check(until is None or d.proc.poll() is None, "bounced exited: %s" % d.read_log())
            check(until is None, "no syslog line with %r in %d s:\n%s\n-- stderr --\n%s"
                  % (until, timeout, "\n".join(lines), d.read_log()))
        drain("event=started")
        c = lmtp_session(d)
        check(c.deliver(dsn("sys@example.net"))[0].startswith("250"), "bounce stored")
        c.f.close()
        c.close()
        drain("event=decision")
        check(d.query("CHECK sys@example.net")[0].startswith("SUPPRESSED"), "query")
        # a warning: a second LMTP connection over lmtp.max_connections (1)
        c1 = lmtp_session(d)
        c2 = d.connect("lmtp.sock")
        check(c2.recv(200).startswith(b"421 4.3.2"), "refused")
        c2.close()
        c1.f.close()
        c1.close()
        drain("event=refused")
        d.proc.send_signal(signal.SIGTERM)
        check(d.proc.wait(20) == 0, "exit status after SIGTERM")
        drain(None)
        parsed = []
        for l in lines:
            m = SYSLOG_RE.match(l)
            check(m, "not a syslog(3) line: %r" % l)
            pri = int(m.group(1))
            parsed.append((pri >> 3, pri & 7, int(m.group(3)), m.group(4)))
        print("\n".join(lines[:6]) + "\n...")
        pid = d.proc.pid
        for fac, sev, p, msg in parsed:
            check(fac == FACILITY_MAIL, "facility %d, want mail: %s" % (fac, msg))
            check(p == pid, "pid %d, want bounced's %d" % (p, pid))
        def sev_of(needle):
            got = [sev for _, sev, _, msg in parsed if needle in msg]
            check(got, "no line with %r" % needle)
            return got[0]
        check(sev_of("event=started") == SEVERITY["info"], "started at info")
        check(sev_of("event=session_start") == SEVERITY["debug"], "session_start at debug")
        check(sev_of("event=decision") == SEVERITY["info"], "decision at info")
        check(sev_of("event=stopped") == SEVERITY["info"], "stopped")
        check(sev_of("event=refused socket=lmtp") == SEVERITY["warning"], "warning priority")
        # syslog only: stderr holds nothing
        check(d.read_log().strip() == "", "stderr is not empty with log.to: syslog:\n"
              + d.read_log())
        d.proc = None


def case_sighup_level():
    with Daemon() as d:
        d.write_config(open(d.config).read().replace("level: debug", "level: info"))
        d.start()

        def session_lines():
            c = lmtp_session(d)
            c.cmd("NOOP")
            c.cmd("QUIT")
            c.f.close()
            c.close()
            time.sleep(0.2)
            return len(d.grep("debug: event=session_start"))
        check(session_lines() == 0, "no debug line at level info")
        check(d.grep("info: event=started"), "journald-readable lines: LEVEL: event=...")
        text = open(d.config).read()
        d.write_config(text.replace("level: info", "level: debug"))
        d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not d.grep("log_level=debug") and time.time() < deadline:
            time.sleep(0.05)
        check(d.grep("event=reload file=") and d.grep("log_level=debug"), d.read_log())
        check(session_lines() == 1, "a debug line after SIGHUP to debug")
        d.write_config(text)
        d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not d.grep("log_level=info") and time.time() < deadline:
            time.sleep(0.05)
        check(session_lines() == 1, "no new debug line after SIGHUP back to info")


if __name__ == "__main__":
    run_case({"syslog": case_syslog, "sighup_level": case_sighup_level})
