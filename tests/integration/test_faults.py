#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_faults.py CASE - issue 6, faults of the state and socket directories,
against a real bounced on a temporary directory (one meson test per case,
suite integration; the locked, read-only and full store are in
test_daemon.py).  What must hold in every case: LMTP answers 451 4.3.0 (never
250 for a bounce that is not durably stored), queries answer from what is
known or say ERR/TEMP clearly, nothing is half-written, and service resumes
by itself once the fault is cleared, without a restart.

  state_missing_start   the state directory missing and not creatable at start
  state_perm_start      the state directory not accessible at start
  state_removed         the state directory removed while running
  state_chmod           the state directory made inaccessible while running
  socket_dir_start      the socket directory missing (created 0755) or not
                        creatable (exit 1, the path named)
  socket_dir_perm       a socket directory clients cannot search: warned,
                        and fixed by a chmod without a restart
  socket_removed        a socket file, then the whole socket directory,
                        removed while running: made again

Needs root (directories of other users, running the daemon as nobody).
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bouncedtest import (Daemon, Lmtp, as_user, check, dsn, lmtp_session,  # noqa: E402
                         run_case, skip, start_as_nobody)

NOBODY = 65534


def need_root():
    if os.geteuid() != 0:
        skip("needs root")


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    check(False, "timed out waiting for " + what)


def deliver(d, addr):
    """One bounce over a fresh LMTP session; the reply line."""
    c = lmtp_session(d)
    try:
        return c.deliver(dsn(addr))[0]
    finally:
        c.close()


def db_count(path):
    db = sqlite3.connect(path, timeout=10)
    try:
        check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check")
        return db.execute("SELECT count(*) FROM bounce").fetchone()[0]
    finally:
        db.close()


def assert_unavailable(d, what):
    """The store cannot be opened: 451, ERR, TEMP, admin ERR; PING still answers."""
    r = deliver(d, "during-%s@remote.test" % what)
    check(r.startswith("451 4.3.0"), "%s: LMTP %r" % (what, r))
    ans = d.check("someone@remote.test")
    check(ans == "ERR store unavailable, try again later", "%s: CHECK %r" % (what, ans))
    sm = d.smap("suppressed someone@remote.test")
    check(sm == ["TEMP store unavailable"], "%s: socketmap %r" % (what, sm))
    _, st = d.admin("LIST")
    check(st.startswith("ERR store unavailable"), "%s: admin LIST %r" % (what, st))
    _, st = d.admin("PING")
    check(st.startswith("OK version=1"), "%s: PING %r" % (what, st))


def assert_resumed(d, what):
    """Without a restart: queries answer, a bounce is stored and seen."""
    wait_for(lambda: d.check("someone@remote.test") == "OK", what="%s: queries back" % what)
    r = deliver(d, "after-%s@remote.test" % what)
    check(r.startswith("250 2.0.0"), "%s: LMTP after the fix %r" % (what, r))
    ans = d.check("after-%s@remote.test" % what)
    check(ans.startswith("SUPPRESSED hard"), "%s: CHECK after the fix %r" % (what, ans))
    check(d.grep("event=store_available"), "%s: recovery logged" % what)


# ---- cases ------------------------------------------------------------------

def case_state_missing_start():
    """Started as nobody; the state directory is missing and its parent is root's:
    the daemon runs anyway (451, ERR, TEMP) and resumes once the directory exists."""
    need_root()
    with Daemon(user="") as d:
        parent = os.path.join(d.tmp, "lib")
        os.makedirs(parent)
        os.chmod(parent, 0o755)
        d.state = os.path.join(parent, "bounced")
        d.write_config(open(d.config).read().replace(os.path.join(d.tmp, "state"), d.state))
        start_as_nobody(d, (d.run,))
        check(d.grep("event=store_unavailable"), "logged at start")
        assert_unavailable(d, "missing")
        os.makedirs(d.state)
        os.chown(d.state, NOBODY, NOBODY)
        assert_resumed(d, "missing")
        d.stop()
        check(db_count(os.path.join(d.state, "bounced.db")) == 1, "only the bounce after the fix")


def case_state_perm_start():
    """Started as root with user nobody; the state directory exists, root's, 0700:
    451/ERR until it is given to the user, then service resumes by itself."""
    need_root()
    with Daemon() as d:
        os.makedirs(d.state)
        os.chmod(d.state, 0o700)
        d.start()
        check(d.grep("event=store_unavailable") and d.grep("Permission denied"),
              "the cause is logged")
        assert_unavailable(d, "perm")
        os.chown(d.state, NOBODY, NOBODY)
        assert_resumed(d, "perm")


def case_state_removed():
    """The state directory removed while running: no 250 into a deleted file (451),
    queries answer from what is known; once the directory is back, a new database
    takes bounces and what was known stays known."""
    need_root()
    with Daemon() as d:
        d.start()
        check(deliver(d, "before@remote.test").startswith("250 2.0.0"), "before")
        shutil.rmtree(d.state)
        r = deliver(d, "lost@remote.test")
        check(r.startswith("451 4.3.0"), "deleted store: %r" % r)
        check(d.grep("deleted or replaced"), "the cause is logged")
        check(d.check("before@remote.test").startswith("SUPPRESSED hard"), "known before")
        check(d.check("lost@remote.test") == "OK", "the refused bounce left nothing")
        wait_for(lambda: d.grep("event=store_moved"), what="the reader noticed")
        os.makedirs(d.state)
        os.chown(d.state, NOBODY, NOBODY)
        r = wait_for(lambda: (lambda x: x if x.startswith("250") else None)(
            deliver(d, "lost@remote.test")), what="250 once the directory is back")
        check(d.check("lost@remote.test").startswith("SUPPRESSED hard"), "stored now")
        check(d.check("before@remote.test").startswith("SUPPRESSED hard"), "still known")
        wait_for(lambda: d.grep("event=store_available"), what="the reader reopened")
        data, st = d.admin("SHOW address=lost@remote.test")
        check(st.startswith("OK events=1"), "admin reads the new database: %r" % st)
        d.stop()
        check(db_count(os.path.join(d.state, "bounced.db")) == 1, "the new database")


def case_state_chmod():
    """The state directory made inaccessible while running: 451 (the file can no
    longer be checked), queries from what is known; chmod back: service resumes."""
    need_root()
    with Daemon() as d:
        d.start()
        check(deliver(d, "before@remote.test").startswith("250 2.0.0"), "before")
        os.chmod(d.state, 0o000)
        try:
            r = deliver(d, "during@remote.test")
            check(r.startswith("451 4.3.0"), "inaccessible: %r" % r)
            check(d.check("before@remote.test").startswith("SUPPRESSED hard"), "known")
            check(d.check("during@remote.test") == "OK", "nothing half-written")
        finally:
            os.chmod(d.state, 0o750)
        r = wait_for(lambda: (lambda x: x if x.startswith("250") else None)(
            deliver(d, "during@remote.test")), what="250 after chmod")
        check(d.check("during@remote.test").startswith("SUPPRESSED hard"), "stored")
        d.stop()
        check(db_count(os.path.join(d.state, "bounced.db")) == 2, "two bounces, intact")


def case_socket_dir_start():
    """A missing socket directory is created 0755; one that cannot be created stops
    the start with exit 1 and a message naming it."""
    need_root()
    with Daemon() as d:
        check(not os.path.exists(d.run), "precondition")
        d.start()
        check(os.stat(d.run).st_mode & 0o777 == 0o755, "created 0755")
        check(d.check("a@b.test") == "OK", "serves")
    d = Daemon(user="")
    try:
        parent = os.path.join(d.tmp, "rootonly")
        os.makedirs(parent)
        os.chmod(parent, 0o755)
        d.write_config(open(d.config).read().replace("run/", "rootonly/run/"))
        os.makedirs(d.state)
        os.chown(d.state, NOBODY, NOBODY)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            d.bin, "--config", d.config], capture_output=True, timeout=30)
        err = p.stderr.decode()
        print(err.strip().splitlines()[-1] if err.strip() else "(no output)")
        check(p.returncode == 1, "exit %d" % p.returncode)
        check("event=startup_failed socket=lmtp" in err and
              os.path.join(parent, "run") in err and "cannot create directory" in err, err)
    finally:
        d.cleanup(check_exit=False)


def case_policy_socket_unavailable():
    """The policy delegation socket is optional: when it cannot be created the
    daemon starts anyway (Postfix then applies its default_action, DUNNO in
    the guide), says so, and serves the other sockets."""
    with Daemon() as d:
        d.write_config(open(d.config).read().replace("run/policy.sock",
                                                     "/proc/bounced-no-such/policy.sock"))
        d.start()
        check(d.check("a@b.test") == "OK", "the query socket serves")
        check(d.grep("event=socket_unavailable socket=policy_service"), "logged")
        check(not d.grep("event=startup_failed"), "not a startup failure")


def case_socket_dir_perm():
    """The socket directory is 0700 root: the daemon warns that its clients cannot
    reach the sockets; a chmod fixes it without a restart."""
    need_root()
    with Daemon() as d:
        os.makedirs(d.run)
        os.chmod(d.run, 0o700)
        d.start()
        check(d.grep("warning=\"directory %s is not searchable" % d.run), "warned")

        def as_postfix():
            import socket
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(d.path("query.sock"))
            except PermissionError:
                return 1
            return 0
        check(as_user("nobody", as_postfix) == 1, "another user cannot connect")
        os.chmod(d.run, 0o755)
        check(as_user("nobody", as_postfix) == 0, "after chmod: connects")


def case_socket_removed():
    """A removed socket file is made again within seconds; a removed socket
    directory too, once the directory can be created again (here: an admin
    recreates it for the daemon's user)."""
    need_root()
    with Daemon() as d:
        d.start()
        os.unlink(d.path("query.sock"))
        wait_for(lambda: os.path.exists(d.path("query.sock")), what="query.sock again")
        check(d.check("a@b.test") == "OK", "query socket serves again")
        check(d.grep("event=socket_recreated socket=query"), "logged")
        shutil.rmtree(d.run)
        wait_for(lambda: d.grep("event=socket_lost socket=lmtp"), what="loss logged")
        os.makedirs(d.run)
        os.chmod(d.run, 0o755)
        os.chown(d.run, NOBODY, NOBODY)
        for n in ("lmtp.sock", "query.sock", "socketmap.sock", "admin.sock"):
            wait_for(lambda: os.path.exists(d.path(n)), what=n + " again")
        check(d.check("a@b.test") == "OK", "queries served again")
        check(deliver(d, "back@remote.test").startswith("250 2.0.0"), "LMTP served again")
        check(d.smap("suppressed back@remote.test")[0].startswith("OK 550"), "socketmap")
        _, st = d.admin("PING")
        check(st.startswith("OK"), "admin: %r" % st)
        # lmtp.sock's group postfix cannot be given by nobody: said loudly
        check(d.grep("event=socket_recreated socket=lmtp") and
              d.grep("could not be given back"), "the group problem is logged")
        check(os.stat(d.path("query.sock")).st_mode & 0o777 == 0o666, "mode kept")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    run_case(CASES)
