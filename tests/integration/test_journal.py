#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_journal.py - issue 16: bounced reading Postfix's entries from a real
systemd journal.  The journal files are written for the test by
systemd-journal-remote from entries in the journal export format (there is
no journald in the test environment); bounced opens their directory
(logsource.type: journal, logsource.path: DIR) with sd-journal.

    BOUNCED_BIN=build/bounced/bounced tests/integration/test_journal.py follow

follow: entries of postfix/cleanup, qmgr and smtp become events (with the
sender from the sent map) and an incident; other identifiers are ignored; a
restart resumes at the stored cursor (nothing counted twice); a journal file
added later is read; a delivery resets the soft count.  Exit 77 without
systemd-journal-remote.
"""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bouncedtest as bt  # noqa: E402

TSS04 = ("421 4.7.0 [TSS04] Messages from 192.0.2.9 temporarily deferred due to unexpected "
         "volume or user complaints")


def journal_remote():
    for p in ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"):
        if os.access(p, os.X_OK):
            return p
    return shutil.which("systemd-journal-remote")


def write_journal(path, entries):
    """entries: (SYSLOG_IDENTIFIER, MESSAGE) in order -> a journal file at path."""
    t = int(time.time() * 1e6)
    text = ""
    for i, (ident, msg) in enumerate(entries):
        text += ("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n"
                 "_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER=%s\n"
                 "_PID=4242\nMESSAGE=%s\n\n" % (t + i, t + i, ident, msg))
    r = subprocess.run([journal_remote(), "--output=" + path, "-"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    bt.check(r.returncode == 0, "systemd-journal-remote: %s" % r.stdout.decode())


def deferred(qid, rcpt, said):
    return ("postfix/smtp", "%s: to=<%s>, relay=mx.orange.example[192.0.2.1]:25, delay=1, "
            "delays=0/0/0/1, dsn=4.7.0, status=deferred (host mx.orange.example[192.0.2.1] "
            "said: %s (in reply to RCPT TO command))" % (qid, rcpt, said))


def case_follow():
    if not journal_remote():
        bt.skip("systemd-journal-remote is not installed (apt-get install systemd-journal-remote)")
    jdir = None
    with bt.Daemon(user="") as d:
        jdir = os.path.join(d.tmp, "journal")
        os.makedirs(jdir)
        write_journal(os.path.join(jdir, "one.journal"), [
            ("postfix/cleanup", "JA1: message-id=<ja1@app.example>"),
            ("postfix/qmgr", "JA1: from=<news@app.example>, size=100, nrcpt=2 (queue active)"),
            deferred("JA1", "ann@orange.example", TSS04),
            deferred("JA1", "soft@orange.example", "452 4.2.2 Mailbox full"),
            ("postfix/smtpd", "JA2: client=unknown[127.0.0.1]"),
            ("postfix/smtp", "JA1: to=<broken@orange.example, status=sent"),
            ("dovecot", "JA1: to=<x@orange.example>, dsn=2.0.0, status=sent (ok)"),
        ])
        d.write_config(open(d.config).read() + "logsource:\n  type: journal\n  path: %s\n" % jdir)
        d.start()
        d.wait_db("SELECT count(*) FROM event WHERE source = 'log'", 2, "log events")
        bt.check(d.db_value("SELECT count(*) FROM event WHERE sender = 'news@app.example' AND "
                          "queue_id = 'JA1'") == 2, "the sender from the sent map")
        bt.check(d.db_value("SELECT count FROM incident WHERE provider = 'orange.example'") == 1,
                 "the TSS04 deferral opened an incident")
        bt.check(d.db_value("SELECT soft_count FROM addr WHERE address = 'soft@orange.example'")
                 == 1, "the soft count")
        bt.check(d.grep("event=logsource_malformed"), "the malformed entry is counted")
        cursor = d.db_value("SELECT cursor FROM logpos WHERE name LIKE 'journal:%'")
        bt.check(cursor and cursor.startswith("s="), "the cursor is stored: %r" % cursor)
        # a restart resumes after the stored cursor
        d.stop()
        d.start()
        time.sleep(1.0)
        bt.check(d.db_value("SELECT count(*) FROM event WHERE source = 'log'") == 2,
                 "nothing counted twice after a restart")
        # a journal file written later (rotation, another boot) is read
        write_journal(os.path.join(jdir, "two.journal"), [
            deferred("JB1", "soft@orange.example", "452 4.2.2 Mailbox full"),
            ("postfix/smtp", "JB2: to=<soft@orange.example>, relay=mx.orange.example"
             "[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
        ])
        d.wait_db("SELECT count(*) FROM event WHERE source = 'log'", 3, "the new file's event")
        d.wait_db("SELECT soft_count FROM addr WHERE address = 'soft@orange.example'", 0,
             "the delivery reset the soft count")
        bt.check(d.db_value("SELECT last_delivered FROM addr WHERE address = "
                          "'soft@orange.example'") > 0, "last delivered recorded")
    print("ok follow")


if __name__ == "__main__":
    bt.run_case({"follow": case_follow})
