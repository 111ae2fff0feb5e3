#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_systemd_unit.py DIST_DIR CONFIG_EXAMPLE - issue 6, the systemd unit's
sandbox.

Checks that dist/bounced.service keeps its hardening (Type=notify, its own
user, NoNewPrivileges, ProtectSystem=strict with the state directory as the
only writable path, PrivateTmp, AF_UNIX only, no capabilities, a system call
filter), that the socket units listen where config.example.yaml says (bounced
matches systemd's sockets by path), and, where systemd-analyze is installed,
that `systemd-analyze security --offline=true` rates the unit at most
MAX_EXPOSURE (it prints the figure and every item that is not "safe"; where
it is not, a "PARTIAL SKIP:" line says so and tests/run-all lists it).
Every Exec*= runs the daemon or /bin/sh (Essential: nothing to depend on;
/bin/kill is procps, which a minimal system lacks), and ExecReload= run the
way systemd runs it delivers SIGHUP to $MAINPID.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

MAX_EXPOSURE = 1.5


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def unit_keys(path):
    keys = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        k, _, v = line.partition("=")
        keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def check_exec(k):
    """The programs of Exec*= are the daemon or /bin/sh; ExecReload= sends
    SIGHUP to the process $MAINPID names."""
    for key in ("ExecStartPre", "ExecStart", "ExecReload", "ExecStop"):
        for v in k.get(key, []):
            prog = shlex.split(v)[0].lstrip("-@:+!")
            if prog not in ("/usr/sbin/bounced", "/bin/sh"):
                fail("%s=%s: runs %s, a dependency outside the package and Essential" %
                     (key, v, prog))
    reload = k.get("ExecReload", [None])[-1]
    if reload is None:
        fail("no ExecReload=")
    # systemd: "$$" is a "$"; $MAINPID in the environment of ExecReload=
    argv = [a.replace("$$", "$") for a in shlex.split(reload)]
    child = subprocess.Popen([sys.executable, "-c",
                              "import signal,sys,time\n"
                              "signal.signal(signal.SIGHUP, lambda *a: sys.exit(42))\n"
                              "print('ready', flush=True)\n"
                              "time.sleep(30)\n"], stdout=subprocess.PIPE)
    child.stdout.readline()
    env = dict(os.environ, MAINPID=str(child.pid))
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    try:
        rc = child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        rc = None
    if r.returncode != 0 or rc != 42:
        fail("ExecReload=%s: exit %d (%s), the main process %s SIGHUP" %
             (reload, r.returncode, r.stderr.strip(), "got" if rc == 42 else "did not get"))
    print("ExecReload= sends SIGHUP to $MAINPID (%s)" % argv[0])


def main():
    if len(sys.argv) != 3:
        print("usage: test_systemd_unit.py DIST_DIR CONFIG_EXAMPLE")
        return 2
    dist, example = sys.argv[1:]
    svc = os.path.join(dist, "bounced.service")
    k = unit_keys(svc)
    want = {
        "Type": "notify", "User": "bounced", "NoNewPrivileges": "yes",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "RestrictAddressFamilies": "AF_UNIX",
        "CapabilityBoundingSet": "", "StateDirectory": "bounced", "UMask": "0077",
        "MemoryDenyWriteExecute": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    }
    for key, val in want.items():
        got = k.get(key, [None])[-1]
        if got != val:
            fail("%s: %s=%r, want %r" % (svc, key, got, val))
    if k.get("ReadWritePaths", [None])[-1] != "/var/lib/bounced":
        fail("ReadWritePaths: only the state directory may be writable: %r" %
             k.get("ReadWritePaths"))
    if not any(v.startswith("@system-service") for v in k.get("SystemCallFilter", [])):
        fail("no SystemCallFilter=@system-service")
    # the socket units listen where the example config says
    conf = open(example, encoding="utf-8").read()
    paths = set(re.findall(r"^\s+socket:\s*(\S+)", conf, re.M))
    listened = set()
    for n in os.listdir(dist):
        if n.endswith(".socket"):
            listened.update(unit_keys(os.path.join(dist, n)).get("ListenStream", []))
    if not listened <= paths:
        fail("socket units listen on %s, config.example.yaml has %s" % (sorted(listened),
                                                                       sorted(paths)))
    print("unit: %d hardening keys as wanted; sockets %s" % (len(want) + 2, sorted(listened)))

    check_exec(k)

    sa = shutil.which("systemd-analyze")
    if not sa:
        print("PARTIAL SKIP: systemd-analyze is not installed (package systemd): "
              "exposure not measured")
        return 0
    r = subprocess.run([sa, "security", "--offline=true", "--no-pager", svc],
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    m = re.search(r"Overall exposure level for bounced\.service:\s*([0-9.]+)\s*(\S+)", out)
    if not m:
        print(out)
        fail("no exposure figure in systemd-analyze's output")
    for line in out.splitlines():
        if line.startswith("\u2717"):
            print("  " + re.sub(r"\s{2,}", "  ", line))
    print("systemd-analyze security --offline=true: exposure %s %s (at most %.1f wanted)"
          % (m.group(1), m.group(2), MAX_EXPOSURE))
    if float(m.group(1)) > MAX_EXPOSURE:
        fail("exposure %s over %.1f" % (m.group(1), MAX_EXPOSURE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
