#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_lab.py - the Postfix lab's own tests; they need no bounced.

- the lab starts and stops from scratch several times, and leaves no
  process (checked in /proc) and no temp dir behind;
- every DSN scenario of issue 4 runs through the real Postfix into the fake
  LMTP receiver, and the captured DSNs say what they must (Action, Status,
  Final-Recipient, LMTP envelope); the committed fixtures match them;
- smtp-sink works as the remote;
- the crash run's counting passes with kills of the fake receiver, and
  fails when the receiver loses a bounce;
- test_e2e.py and test_crash.py skip (77) without bounced.

Exit 77 when not root or Postfix is missing.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402
import capture  # noqa: E402
import test_crash as crash  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "postfix-dsn"))


class LabLifecycle(unittest.TestCase):
    def test_start_stop_from_scratch_leaves_nothing(self):
        for i in range(3):
            t0 = time.monotonic()
            lab = L.Lab()
            up = time.monotonic() - t0
            etc, master, d = lab.etc, lab.master_pid, lab.dir
            try:
                self.assertTrue(L.alive(master))
                self.assertGreaterEqual(len(lab.processes()), 2, "master and children")
                fake = lab.fake_lmtp()
                lab.remote()
                helper_pids = [fake.pid]
            finally:
                left = lab.stop()
            self.assertEqual(left, [])
            self.assertEqual(L.procs_with_env("MAIL_CONFIG", etc), [])
            self.assertFalse(L.alive(master))
            for pid in helper_pids:
                self.assertFalse(L.alive(pid), "helper %d still alive" % pid)
            self.assertFalse(os.path.exists(d), "lab dir left behind")
            print("lab %d: setup %.2fs, stop %.2fs" % (i, up, lab.timings["stop"]),
                  file=sys.stderr)

    def test_cleanup_when_the_body_raises(self):
        with self.assertRaises(ZeroDivisionError):
            with L.Lab() as lab:
                etc = lab.etc
                lab.fake_lmtp()
                1 / 0
        self.assertEqual(L.procs_with_env("MAIL_CONFIG", etc), [])


class Scenarios(L.LabTestCase):
    """Issue 4's scenarios against the fake receiver, on one lab."""

    @classmethod
    def setUpClass(cls):
        cls.lab = L.Lab()
        try:
            cls.caps = capture.run_all(cls.lab)
        except BaseException:
            cls.lab.stop()
            raise

    def check(self, scenario, n=1):
        caps = self.caps[scenario]
        self.assertEqual(len(caps), n)
        for c in caps:
            self.assertEqual(c.fields(), c.expect, c.name)
            self.assertEqual(c.envelope["mail_from"], "")
            self.assertIn("BODY=8BITMIME", c.envelope["mail_params"])
            self.assertEqual(len(c.envelope["rcpt_to"]), 1)
        return caps

    def test_hard(self):
        c = self.check("hard")[0]
        self.assertEqual(c.envelope["rcpt_to"], [L.RETURN_PATH])
        self.assertIn(b"Subject: Undelivered Mail Returned to Sender", c.data)

    def test_multi(self):
        self.assertEqual(len(self.check("multi")[0].expect), 3)

    def test_soft_expired(self):
        self.check("soft_expired")
        self.assertEqual(self.lab.postconf("maximal_queue_lifetime"), "1h")

    def test_delayed(self):
        c = self.check("delayed")[0]
        self.assertIn(b"Subject: Delayed Mail (still being retried)", c.data)
        self.assertEqual(self.lab.postconf("delay_warning_time"), "0h")

    def test_xverp(self):
        caps = self.check("xverp", 2)
        self.assertEqual(sorted(c.envelope["rcpt_to"][0] for c in caps),
                         ["bounces+v1=remote.test@bounce.test",
                          "bounces+v2=remote.test@bounce.test"])

    def test_lmtp_down(self):
        c = self.check("lmtp_down")[0]
        story = "\n".join(c.story)
        self.assertIn("No such file or directory", story)
        self.assertIn("451 4.3.0", story)
        self.assertEqual(story.count("status=sent"), 1)

    def test_fixtures_match_what_postfix_sends(self):
        """The committed fixtures have the shape of a fresh capture (the
        same scenarios, recipients, actions, statuses, envelopes)."""
        with open(os.path.join(FIXTURES, "index.json")) as f:
            index = json.load(f)
        fresh = {c.name: c for lst in self.caps.values() for c in lst}
        self.assertEqual(sorted(index), sorted(fresh))
        for name, c in fresh.items():
            self.assertEqual(index[name]["recipients"], c.expect, name)
            self.assertEqual(index[name]["envelope"]["rcpt_to"], c.envelope["rcpt_to"], name)
            with open(os.path.join(FIXTURES, name + ".eml"), "rb") as f:
                data = f.read()
            self.assertNotIn(b"\r\n", data)
            old = capture.Capture(name, dict(c.envelope, data=data), c.expect, [], "")
            self.assertEqual(old.fields(), c.expect, name)


class SmtpSink(unittest.TestCase):
    def test_smtp_sink_as_remote(self):
        with L.Lab() as lab:
            lab.smtp_sink("-f", "RCPT", "-B", "550 5.1.1 Recipient address rejected: User unknown")
            fake = lab.fake_lmtp()
            mark = lab.log_mark()
            t0 = time.monotonic()
            r = lab.send(L.RETURN_PATH, ["anyone@remote.test"])
            dsn = lab.wait_dsn(r.queue_id, after=mark)
            lab.wait_sent(dsn, after=mark)
            print("round trip send -> DSN at LMTP: %.3fs" % (time.monotonic() - t0),
                  file=sys.stderr)
            msg = fake.message_for_qid(dsn)
            self.assertIn(b"Status: 5.1.1", msg["data"])


class CrashCounting(unittest.TestCase):
    def args(self, **kw):
        a = argparse.Namespace(n=150, kills=3, fake=True, bounced=None, batch=5, seed=7,
                               timeout=120, keep=False, full=False, fake_drop_every=0,
                               spread=None)
        vars(a).update(kw)
        return a

    def test_kills_of_the_receiver_lose_nothing(self):
        res = crash.run(self.args())
        self.assertEqual(res["failures"], [])
        self.assertEqual(len(res["kills_done"]), 3)
        self.assertEqual(res["dsn_delivered"], 150)
        self.assertEqual(res["stored_distinct"], 150)

    def test_a_lost_bounce_is_caught(self):
        res = crash.run(self.args(kills=0, fake_drop_every=50))
        self.assertTrue(any("not in the store" in f for f in res["failures"]), res["failures"])


class SkipsWithoutBounced(unittest.TestCase):
    def test_e2e_and_crash_skip(self):
        env = dict(os.environ)
        env.pop("BOUNCED", None)
        for script in ("test_e2e.py", "test_crash.py"):
            r = subprocess.run([sys.executable, os.path.join(HERE, script)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(r.returncode, L.SKIP, r.stdout)
            self.assertIn("BOUNCED", r.stdout)


if __name__ == "__main__":
    sys.exit(L.unittest_main("test_lab"))
