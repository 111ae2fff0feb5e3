#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_install.py - what `meson install` puts on a machine, and that the
installed systemd units fit the installed config and the daemon.

    test_install.py destdir      DESTDIR install: the exact file list, the
                                 unit paths rewritten for the prefix, the
                                 config never overwritten, systemd-analyze
                                 verify on the units (when systemd-analyze is
                                 there), the config passes --check-config
    test_install.py activation   the installed socket units' five sockets,
                                 passed by systemd-socket-activate (LISTEN_FDS)
                                 to the daemon run with the installed config
                                 (both relocated from /run/bounced to a temp
                                 dir): taken by path, served, READY=1 and
                                 STOPPING=1 on NOTIFY_SOCKET

Environment (meson sets them): MESON_BUILD_ROOT (the build dir to install
from), BOUNCED_BIN.  Exit 77 (skipped) when a tool is missing.
"""
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from bouncedtest import check, fail, skip, lmtp_session, dsn, run_case  # noqa: E402

UNITS = ["bounced.service", "bounced-lmtp.socket", "bounced-query.socket",
         "bounced-policy.socket", "bounced-admin.socket"]
SOCKETS = ["lmtp", "query", "socketmap", "policy_service", "admin"]
# the policy socket lives in Postfix's queue directory (chrooted smtpd)
POLICY_PATH = "/var/spool/postfix/private/bounced-policy"


def build_root():
    b = os.environ.get("MESON_BUILD_ROOT")
    if not b or not os.path.isfile(os.path.join(b, "build.ninja")):
        skip("MESON_BUILD_ROOT is not a meson build dir")
    return b


def options(build):
    """The build's install directories, absolute."""
    r = subprocess.run(["meson", "introspect", "--buildoptions", build],
                       capture_output=True, text=True, check=True)
    o = {x["name"]: x["value"] for x in json.loads(r.stdout)}
    prefix = o["prefix"]

    def absdir(k):
        return os.path.normpath(os.path.join(prefix, o[k]))
    return o, {k: absdir(k) for k in ("bindir", "sbindir", "sysconfdir", "mandir", "datadir")}


def have_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def have_group(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def meson_install(build, destdir):
    r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--destdir", destdir],
                       capture_output=True, text=True)
    check(r.returncode == 0, "meson install failed:\n%s\n%s" % (r.stdout, r.stderr))
    return r.stdout + r.stderr


def tree(root):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            out.append("/" + os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def unit_values(text):
    """{key: [values]} of a unit file (keys may repeat: ListenStream)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        k, _, v = line.partition("=")
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def config_sockets(path):
    """The five socket paths, modes and groups of a bounced.yaml (its
    top-level sections; enough for config.example.yaml's layout)."""
    out, sec = {}, None
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\w+):\s*$", line)
            if m:
                sec = m.group(1)
                continue
            m = re.match(r"^  (socket|mode|group):\s*\"?([^\"#\s]*)\"?", line)
            if m and sec in SOCKETS:
                out.setdefault(sec, {})[m.group(1)] = m.group(2)
    return out


def case_destdir():
    build = build_root()
    o, d = options(build)
    dest = tempfile.mkdtemp(prefix="bounced-destdir-")
    try:
        meson_install(build, dest)
        got = tree(dest)
        conf = os.path.join(d["sysconfdir"], "bounced", "bounced.yaml")
        want = [os.path.join(d["sbindir"], "bounced"), os.path.join(d["bindir"], "bouncectl"),
                conf, os.path.join(d["datadir"], "doc", "bounced", "config.example.yaml"),
                os.path.join(d["datadir"], "doc", "bounced", "examples", "bounced-check.sh"),
                os.path.join(d["datadir"], "doc", "bounced", "examples", "bounced_check.py"),
                os.path.join(d["datadir"], "doc", "bounced", "examples", "bounced_check.php"),
                os.path.join(d["mandir"], "man1", "bouncectl.1"),
                os.path.join(d["mandir"], "man5", "bounced.yaml.5"),
                os.path.join(d["mandir"], "man8", "bounced.8")]
        unitdir = None
        if o.get("systemd", True):
            unitdir = o.get("systemdsystemunitdir") or ""
            if not unitdir:
                r = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                                   capture_output=True, text=True)
                unitdir = r.stdout.strip() or "/lib/systemd/system"
            sysusers = o.get("sysusersdir") or subprocess.run(
                ["pkg-config", "--variable=sysusersdir", "systemd"], capture_output=True,
                text=True).stdout.strip() or "/usr/lib/sysusers.d"
            tmpfiles = o.get("tmpfilesdir") or subprocess.run(
                ["pkg-config", "--variable=tmpfilesdir", "systemd"], capture_output=True,
                text=True).stdout.strip() or "/usr/lib/tmpfiles.d"
            want += [os.path.join(unitdir, u) for u in UNITS]
            want += [os.path.join(sysusers, "bounced.conf"), os.path.join(tmpfiles, "bounced.conf")]
        print("installed files (DESTDIR=%s):\n  %s" % (dest, "\n  ".join(got)))
        check(sorted(want) == got, "file list:\n want %s\n got  %s" % (sorted(want), got))
        for exe in (want[0], want[1]):
            check(os.access(dest + exe, os.X_OK), exe + " is not executable")

        # the installed config is the example, and it is valid
        src = os.path.join(os.path.dirname(__file__), "..", "..", "config.example.yaml")
        check(open(src).read() == open(dest + conf).read(), "the config is config.example.yaml")
        check(os.stat(dest + conf).st_mode & 0o777 == 0o644, "config mode 0644")
        # (--check-config also checks the system: the user bounced and the
        # group postfix it names exist once the package or systemd-sysusers
        # made them, and Postfix is installed; until then it says which)
        r = subprocess.run([dest + want[0], "--check-config", "--config", dest + conf],
                           capture_output=True, text=True)
        if not have_user("bounced"):
            check(r.returncode == 78 and re.search(r"bounced\.yaml:\d+: user: no such user "
                                                   r"bounced", r.stderr),
                  "--check-config without the user bounced: %d %s" % (r.returncode, r.stderr))
            print("--check-config: %s (no user bounced on this machine)" % r.stderr.strip())
        elif not have_group("postfix"):
            check(r.returncode == 78 and re.search(r"bounced\.yaml:\d+: lmtp\.group: no such "
                                                   r"group postfix", r.stderr),
                  "--check-config without the group postfix: %d %s" % (r.returncode, r.stderr))
        else:
            check(r.returncode == 0, "--check-config of the installed config: %s" % r.stderr)

        # an admin's config survives a second install
        with open(dest + conf, "a") as f:
            f.write("# edited by the admin\n")
        meson_install(build, dest)
        check(open(dest + conf).read().endswith("# edited by the admin\n"),
              "meson install overwrote the admin's config")

        if unitdir is None:
            return
        units = {u: open(dest + os.path.join(unitdir, u)).read() for u in UNITS}
        sv = unit_values(units["bounced.service"])
        exe = os.path.join(d["sbindir"], "bounced")
        check(sv["ExecStart"] == ["%s --config %s" % (exe, conf)], sv["ExecStart"])
        check(sv["ExecStartPre"] == ["%s --config %s --check-config" % (exe, conf)],
              sv["ExecStartPre"])
        check(sv["Type"] == ["notify"], "Type=notify")

        # the sockets systemd creates are the ones the installed config names
        # (bounced takes a passed socket by its path)
        cs = config_sockets(dest + conf)
        listen = {}
        for u in UNITS[1:]:
            uv = unit_values(units[u])
            check(uv.get("Service") == ["bounced.service"], u + ": Service=bounced.service")
            for p in uv["ListenStream"]:
                listen[p] = uv
        cpaths = {cs[s]["socket"]: s for s in SOCKETS}
        check(set(listen) == set(cpaths),
              "socket units listen on %s, the config names %s" % (sorted(listen), sorted(cpaths)))
        for p, uv in listen.items():
            name = cpaths[p]
            check(p.startswith("/run/bounced/") or (name == "policy_service" and p == POLICY_PATH),
                  p)
            if name in ("lmtp", "query", "socketmap", "policy_service"):
                check(uv["SocketMode"] == [cs[name]["mode"]],
                      "%s: unit mode %s, config %s" % (name, uv["SocketMode"], cs[name]["mode"]))
        check(unit_values(units["bounced-lmtp.socket"])["SocketGroup"] == [cs["lmtp"]["group"]],
              "the LMTP socket's group is the config's lmtp.group (postfix)")
        req = sv["Requires"][0].split()
        check(sorted(req) == sorted(u for u in UNITS[1:] if u != "bounced-policy.socket"),
              "the service requires its lmtp, query and admin sockets: %s" % req)
        check(sv["Wants"][0].split() == ["bounced-policy.socket"],
              "the service wants its policy socket (Postfix may not be installed yet)")

        sa = shutil.which("systemd-analyze")
        if sa:
            # verify copies whose ExecStart points into DESTDIR (the binary is not in /usr yet)
            vdir = os.path.join(dest, "verify")
            os.makedirs(vdir)
            for u, text in units.items():
                with open(os.path.join(vdir, u), "w") as f:
                    f.write(text.replace(exe, dest + exe))
            r = subprocess.run([sa, "verify", "--man=no"] + [os.path.join(vdir, u) for u in UNITS],
                               capture_output=True, text=True)
            check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
                  "systemd-analyze verify: %s %s" % (r.stdout, r.stderr))
            print("systemd-analyze verify: clean")
        else:
            print("PARTIAL SKIP: systemd-analyze is not installed (package systemd): "
                  "units not verified")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def case_activation():
    """systemd-socket-activate (from the systemd package) creates the five
    sockets of the installed units, relocated to a temp dir, and passes them
    to the daemon, which must take every one of them by path."""
    build = build_root()
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        skip("systemd-socket-activate is not installed (package systemd)")
    bounced = os.environ.get("BOUNCED_BIN")
    if not bounced:
        skip("BOUNCED_BIN is not set")
    o, d = options(build)
    if not o.get("systemd", True):
        skip("built with -Dsystemd=false")
    dest = tempfile.mkdtemp(prefix="bounced-act-")
    os.chmod(dest, 0o755)
    proc = None
    try:
        meson_install(build, dest)
        conf = dest + os.path.join(d["sysconfdir"], "bounced", "bounced.yaml")
        unitdir = None
        for root, _, files in os.walk(dest):
            if "bounced-lmtp.socket" in files:
                unitdir = root
        check(unitdir, "no socket units installed")
        run = os.path.join(dest, "run")
        state = os.path.join(dest, "state")
        listen = []
        for u in UNITS[1:]:
            listen += unit_values(open(os.path.join(unitdir, u)).read())["ListenStream"]
        check(len(listen) == 5, listen)
        # relocate: /run/bounced -> DEST/run, /var/lib/bounced -> DEST/state, the policy
        # socket -> DEST/run/policy_service.sock
        text = open(conf).read().replace("/run/bounced/", run + "/") \
            .replace("/var/lib/bounced/", state + "/") \
            .replace(POLICY_PATH, run + "/policy_service.sock")
        user = "nobody" if os.geteuid() == 0 else ""
        text = re.sub(r"(?m)^user: bounced$", "user: %s" % user, text)
        text = re.sub(r"(?m)^  group: postfix$", "  group:", text)
        relconf = os.path.join(dest, "bounced.yaml")
        with open(relconf, "w") as f:
            f.write(text)
        os.makedirs(run)
        os.chmod(run, 0o755)
        if user:
            os.makedirs(state)
            shutil.chown(state, user)
        # the units' order is not the config's: bounced must match by path
        paths = [p.replace("/run/bounced/", run + "/").replace(POLICY_PATH,
                 run + "/policy_service.sock") for p in reversed(listen)]
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = os.path.join(dest, "notify")
        notify.bind(npath)
        os.chmod(npath, 0o777)
        notify.settimeout(15)
        log = os.path.join(dest, "bounced.log")
        argv = [tool]
        for p in paths:
            argv += ["-l", p]
        argv += ["-E", "NOTIFY_SOCKET=" + npath, bounced, "--config", relconf]
        with open(log, "wb") as lf:
            proc = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT)

        def logtext():
            return open(log, "rb").read().decode("utf-8", "replace")
        deadline = time.time() + 10
        while not all(os.path.exists(p) for p in paths):
            check(time.time() < deadline and proc.poll() is None,
                  "systemd-socket-activate did not listen:\n" + logtext())
            time.sleep(0.05)
        for p in paths:
            os.chmod(p, 0o666)  # what SocketMode= does; the tool has no option for it
        # the first connection makes systemd-socket-activate exec the daemon
        q = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        q.settimeout(15)
        q.connect(os.path.join(run, "query.sock"))
        q.sendall(b"CHECK first@example.com\n")
        check(q.recv(100) == b"OK\n", "CHECK on the activating connection")
        q.close()
        msg = notify.recv(4096)
        check(msg == b"READY=1", "notify: %r" % msg)
        taken = re.findall(r"event=socket socket=(\w+) path=(\S+) from=systemd", logtext())
        print("\n".join("taken from systemd: %s %s" % t for t in taken))
        check(sorted(taken) == sorted((s, os.path.join(run, s + ".sock")) for s in SOCKETS),
              "the five passed sockets, each by its path:\n" + logtext())
        check("event=privileges_dropped" in logtext() or not user, "dropped to nobody")

        class D:  # the minimum bouncedtest's helpers need
            def connect(self, name, timeout=10):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(timeout)
                s.connect(os.path.join(run, name))
                return s
        # the installed config signs bounce.example.com (trust.mode signed):
        # Postfix would ask the sign map, and the DSN come back to that address
        sm = D().connect("socketmap.sock")
        req = b"sign bounces@bounce.example.com"
        sm.sendall(b"%d:%s," % (len(req), req))
        ans = sm.recv(300).decode()
        m = re.match(r"^\d+:OK (prvs=\d{4}[0-9a-f]{10}=bounces@bounce\.example\.com),$", ans)
        check(m, "sign map on the passed socket: %r" % ans)
        sm.close()
        c = lmtp_session(D())
        r = c.deliver(dsn("dead@example.com"), rcpts=(m.group(1),))
        check(r[0].startswith("250"), "LMTP on the passed socket: %s" % r)
        c.close()
        q = D().connect("query.sock")
        q.sendall(b"CHECK dead@example.com\n")
        ans = q.recv(200).decode()
        check(ans.startswith("SUPPRESSED hard"), "CHECK after the bounce: %r" % ans)
        q.close()
        sm = D().connect("socketmap.sock")
        req = b"suppressed dead@example.com"
        sm.sendall(b"%d:%s," % (len(req), req))
        ans = sm.recv(300).decode()
        check(" 550 5.1.1 " in ans, "socketmap on the passed socket: %r" % ans)
        sm.close()
        a = D().connect("admin.sock")
        a.sendall(b"PING\n")
        check(a.recv(200).startswith(b"OK version=1"), "admin on the passed socket")
        a.close()
        proc.send_signal(signal.SIGTERM)
        check(notify.recv(4096) == b"STOPPING=1", "STOPPING=1")
        check(proc.wait(20) == 0, "exit status after SIGTERM:\n" + logtext())
        proc = None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    run_case({"destdir": case_destdir, "activation": case_activation})
