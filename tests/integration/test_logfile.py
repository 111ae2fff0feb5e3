#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_logfile.py - issue 16: the file log source on a real bounced, with
lines written by the test (the real Postfix cases are in
tests/integration/postfix/test_logsrc.py).

    BOUNCED_BIN=build/bounced/bounced tests/integration/test_logfile.py edges

edges: a line is taken only once its newline is written; a 20 kB line is
cut and still counted once; a 100 kB line with no newline yet is skipped to
its end and the next line counted; malformed lines are skipped and logged;
remote text that looks like fields ("status=sent") stays text; a restart
resumes at the stored position (nothing lost or counted twice).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bouncedtest as bt  # noqa: E402


def deferral(qid, rcpt, said, t="10:00:01"):
    return ("Dec  5 %s mx postfix/smtp[1]: %s: to=<%s>, relay=mx.x.example[192.0.2.1]:25, "
            "delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (host mx.x.example[192.0.2.1] "
            "said: %s (in reply to RCPT TO command))" % (t, qid, rcpt, said))


EVENTS = "SELECT count(*) FROM event WHERE source = 'log'"


def case_edges():
    with bt.Daemon(user="") as d:
        log = os.path.join(d.tmp, "mail.log")

        def append(text):
            with open(log, "a") as f:
                f.write(text)
        open(log, "w").close()
        d.write_config(open(d.config).read() + "logsource:\n  type: file\n  path: %s\n" % log)
        d.start()
        # half a line: not taken until its newline
        line = deferral("AA1", "half@x.example", "452 4.2.2 Mailbox full")
        append(line[:100])
        time.sleep(0.6)
        bt.check(d.db_value(EVENTS) == 0, "a partial line was taken")
        append(line[100:] + "\n")
        d.wait_db(EVENTS, 1, "the completed line")
        # a 20 kB line: cut, counted once
        append(deferral("AA2", "long@x.example", "452 4.2.2 " + "y" * 20000) + "\n")
        d.wait_db(EVENTS, 2, "the 20 kB line")
        bt.check(d.db_value("SELECT length(diagnostic) FROM event WHERE address = "
                          "'long@x.example'") <= 2048, "the diagnostic is bounded")
        # 100 kB with no newline yet: skipped to its end, then the next line counts
        append("Dec  5 10:00:02 mx postfix/smtp[1]: AA3: to=<skip@x.example>, " + "z" * 100000)
        time.sleep(0.6)
        append("z" * 1000 + "\n" + deferral("AA4", "after@x.example", "452 4.2.2 Full") + "\n")
        d.wait_db(EVENTS, 3, "the line after the 100 kB one")
        bt.check(d.db_value("SELECT count(*) FROM event WHERE address = 'after@x.example'") == 1,
                 "the line after the cut one")
        # malformed and hostile lines
        append("Dec  5 10:00:03 mx postfix/smtp[1]: AA5: to=<broken@x.example, status=sent\n"
               "Dec  5 10:00:03 mx postfix/smtp[1]: AA6: to=<x@x.example>, status=exploded\n"
               + deferral("AA7", "hostile@x.example", "450 4.2.0 no, status=sent (250 ok), "
                          "dsn=2.0.0") + "\n")
        d.wait_db(EVENTS, 4, "the hostile line")
        bt.check(d.db_value("SELECT action FROM event WHERE address = 'hostile@x.example'")
                 == "delayed", "remote text taken as a field")
        # the two, and the cut 100 kB line (no status= in its first 8 kB)
        bt.check(len(d.grep("event=logsource_malformed")) == 3, "the malformed lines logged")
        # a restart: lines written while stopped are read, none twice
        d.stop()
        append(deferral("AA8", "down@x.example", "452 4.2.2 Full", "10:00:09") + "\n")
        d.start()
        d.wait_db(EVENTS, 5, "the line written while stopped")
        time.sleep(0.5)
        bt.check(d.db_value(EVENTS) == 5, "a line counted twice after the restart")
    print("ok edges")


if __name__ == "__main__":
    bt.run_case({"edges": case_edges})
