#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_privilege.py CASE - issue 6, least privilege, against a real bounced
started as root with `user: nobody` (one meson test per case, suite
integration; needs root):

  dropped          every uid and gid of the process is the user's, no
                   supplementary group, no capability left; the only files
                   it holds open are in its state directory (and the log the
                   test gave it)
  no_write_outside a store configured in a directory of root's: the user
                   cannot create it there (451, the cause logged), nothing
                   is created, and it works once the directory is the user's
  query_readonly   every admin verb sent to the query and socketmap sockets
                   changes nothing (the database is byte-for-byte the same)

The admin socket's refusal of other uids is test_daemon.py's admin_denied
(and test_bouncectl.py's admin_denied); the systemd unit's sandbox is
tests/ecosystem/test_systemd_unit.py.
"""
import hashlib
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bouncedtest import (Daemon, check, deliver_ok, dsn, lmtp_session, run_case,  # noqa: E402
                         skip)

NOBODY = 65534


def need_root():
    if os.geteuid() != 0:
        skip("needs root")


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def case_dropped():
    """uid/gid real, effective, saved and fs all the user's; no groups, no caps;
    open files only in the state directory."""
    need_root()
    if os.environ.get("BOUNCED_WRAPPER"):
        skip("under a wrapper the process is the wrapper's")
    with Daemon() as d:
        d.start()
        c = lmtp_session(d)
        check(c.deliver(dsn("priv@remote.test"))[0].startswith("250"), "deliver")
        st = status(d.proc.pid)
        print("Uid: %s  Gid: %s  Groups: %r  CapEff: %s  CapPrm: %s" % (
            st["Uid"], st["Gid"], st["Groups"], st["CapEff"], st["CapPrm"]))
        check(st["Uid"].split() == [str(NOBODY)] * 4, "uids: %s" % st["Uid"])
        check(st["Gid"].split() == [str(NOBODY)] * 4, "gids: %s" % st["Gid"])
        check(st["Groups"] in ("", str(NOBODY)), "supplementary groups: %r" % st["Groups"])
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            check(int(st[cap], 16) == 0, "%s %s" % (cap, st[cap]))
        files = []
        fd_dir = "/proc/%d/fd" % d.proc.pid
        for fd in os.listdir(fd_dir):
            try:
                t = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if t.startswith("/"):
                files.append(t)
        state = os.path.realpath(d.state)
        outside = [f for f in files if not f.startswith(state + "/") and
                   f not in (os.path.realpath(d.log), "/dev/null")]
        print("open files: %r" % sorted(set(files)))
        check(not outside, "files open outside the state directory: %r" % outside)
        check(any(f.startswith(state + "/bounced.db") for f in files), "the database is open")
        c.close()


def case_no_write_outside():
    """The store in a directory of root's: nobody cannot create it (LMTP 451, the
    cause in the log), nothing appears there; given to the user, it works."""
    need_root()
    with Daemon() as d:
        rootdir = os.path.join(d.tmp, "rootonly")
        os.makedirs(rootdir)
        os.chmod(rootdir, 0o755)
        os.makedirs(d.state)
        os.chown(d.state, NOBODY, NOBODY)
        text = open(d.config).read().replace("path: %s/bounced.db" % d.state,
                                             "path: %s/bounced.db" % rootdir)
        d.write_config(text)
        d.start()
        c = lmtp_session(d)
        r = c.deliver(dsn("x@remote.test"))
        check(r[0].startswith("451 4.3.0"), "cannot write there: %r" % r)
        c.close()
        check(d.grep("not writable") or d.grep("Permission denied") or d.grep("unable to open"),
              "the cause is logged")
        check(os.listdir(rootdir) == [], "nothing created in root's directory: %r" %
              os.listdir(rootdir))
        os.chown(rootdir, NOBODY, NOBODY)
        c = lmtp_session(d)
        ok = False
        for _ in range(30):
            r = c.deliver(dsn("x@remote.test"))
            if r[0].startswith("250"):
                ok = True
                break
            time.sleep(0.2)
        check(ok, "works once the directory is the user's: %r" % r)
        check(os.stat(os.path.join(rootdir, "bounced.db")).st_uid == NOBODY, "owned by the user")
        c.close()


def db_digest(d):
    """A digest of every row of every table (the files themselves change when
    a WAL is checkpointed)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.state, "bounced.db"), uri=True)
    try:
        h = hashlib.sha256()
        for line in db.iterdump():
            h.update(line.encode() + b"\n")
        return h.hexdigest()
    finally:
        db.close()


def case_query_readonly():
    """Every admin verb over the query and socketmap sockets: ERR / PERM /
    NOTFOUND, and the database is unchanged, row for row."""
    with Daemon() as d:
        d.start()
        deliver_ok(d, dsn("kept@remote.test"))
        _, st = d.admin("SUPPRESS target=manual@remote.test")
        check(st.startswith("OK"), st)
        before = db_digest(d)
        verbs = ["SUPPRESS target=victim@x.test", "UNSUPPRESS target=kept@remote.test",
                 "UNSUPPRESS target=manual@remote.test", "FORGET address=kept@remote.test",
                 "IMPORT source=x", "+ target=victim@x.test", ".", "REEVALUATE", "PURGE",
                 "DELETE kept@remote.test", "SET kept@remote.test ok", "QUIT"]
        answers = d.query(*verbs)
        for v, a in zip(verbs, answers):
            check(a.startswith("ERR "), "query %r answered %r" % (v, a))
        for name in ("suppressed", "suppressed_transport", "admin", "import"):
            for v in verbs:
                sm = d.smap("%s %s" % (name, v))
                check(sm[0] in ("NOTFOUND ",) or sm[0].startswith("PERM ") or
                      sm[0].startswith("OK ") and "kept@remote.test" in v or
                      sm[0].startswith("OK ") and "manual@remote.test" in v,
                      "socketmap %r answered %r" % (v, sm))
        check(d.check("kept@remote.test").startswith("SUPPRESSED hard"), "still suppressed")
        check(d.check("manual@remote.test").startswith("SUPPRESSED manual"), "still suppressed")
        check(d.check("victim@x.test") == "OK", "nothing suppressed")
        check(db_digest(d) == before, "the database is unchanged")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    run_case(CASES)
