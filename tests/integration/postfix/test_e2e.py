#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_e2e.py - issue 4 end to end: a real Postfix delivers its DSNs to a
real bounced over LMTP; every scenario is checked through bounced's query
socket (and the last one through Postfix's own refusal via the socketmap).

    BOUNCED=build/bounced/bounced tests/integration/postfix/test_e2e.py [-v] [Test.test_x]

Exit 77 (meson: skipped) when not root, when Postfix is not installed, or
when $BOUNCED is unset or not an executable.  LAB_KEEP=1 keeps the lab's
temp dir (maillog, bounced.log, the database) for a post-mortem.
"""

import datetime
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402

R = L.REMOTE_DOMAIN
RP = L.RETURN_PATH

HARD = "550 5.1.1 <%s>: Recipient address rejected: User unknown"
SOFT = "452 4.2.2 <%s>: Mailbox full, try again later"
GREY = "450 4.2.0 <%s>: Recipient address rejected: Greylisted, try again later"

# The remote's reply per recipient; one address per scenario, so that the
# scenarios do not depend on each other or on their order.
RULES = {}
for _a in ("hard1", "verp1", "down1", "sm1"):
    RULES["%s@%s" % (_a, R)] = HARD % ("%s@%s" % (_a, R))
RULES["soft1@" + R] = SOFT % ("soft1@" + R)
RULES["delay1@" + R] = GREY % ("delay1@" + R)

# A bounce that names nobody: only its VERP envelope says who failed (some
# MTAs answer like this after accepting a message).
ANONYMOUS_BOUNCE = """\
Your message could not be delivered to the recipient.

The remote server said:
  550 5.1.1 The email account that you tried to reach does not exist.

--- The header of the original message is following. ---

Subject: lab test message
"""

# How long bounced may take to answer for a bounce after Postfix logged its
# delivery (issue 4: "within a second").
WITHIN = 1.0


def is_iso8601(s):
    try:
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


class EndToEnd(L.BouncedLabTestCase):
    @classmethod
    def set_up_lab(cls):
        cls.lab.remote(RULES)
        cls.bounced = L.Bounced(cls.lab).start()

    # -- helpers --------------------------------------------------------------

    def bounce_of(self, rcpt, mark, xverp=False, kind="non-delivery"):
        """Sends one message to rcpt and waits for its DSN to be delivered
        over LMTP.  Returns (dsn qid, delivery, monotonic time it was seen)."""
        r = self.lab.send(RP, [rcpt], xverp=xverp)
        self.assertTrue(r.queue_id, "smtpd did not accept the message: %r" % r)
        dsn = self.lab.wait_dsn(r.queue_id, after=mark, kind=kind)
        d, t = self.lab.wait_sent(dsn, after=mark)
        return dsn, d, t

    def assert_ok(self, addr):
        ans = self.bounced.check(addr)
        self.assertEqual(ans, "OK", "CHECK %s" % addr + self.diag())

    def assert_suppressed(self, addr, cause, since_t, within=WITHIN):
        """CHECK addr answers SUPPRESSED <cause> within `within` seconds of
        since_t (a monotonic time); returns the parsed answer."""
        left = max(0.0, since_t + within - time.monotonic())
        try:
            ans = self.bounced.wait_check(addr, lambda a: a.startswith("SUPPRESSED"),
                                          timeout=left)
        except AssertionError as e:
            self.fail("%s\n(not SUPPRESSED within %.1fs of the DSN's delivery)%s"
                      % (e, within, self.diag()))
        p = L.parse_answer(ans)
        self.assertEqual(p["cause"], cause, "CHECK %s -> %r" % (addr, ans))
        self.assertTrue(p["reason"], ans)
        self.assertTrue(is_iso8601(p["since"]), "since is not ISO 8601: %r" % ans)
        return p

    # -- the scenarios of issue 4 ---------------------------------------------

    def test_1_hard_bounce_suppresses_within_a_second(self):
        addr = "hard1@" + R
        self.assert_ok(addr)
        mark = self.lab.log_mark()
        dsn, d, t = self.bounce_of(addr, mark)
        self.assertEqual(d["to"], RP)
        self.assert_suppressed(addr, "hard", t)
        # Other addresses are untouched.
        self.assert_ok("someone-else@" + R)

    def test_2_soft_bounce_that_expires_does_not_suppress(self):
        addr = "soft1@" + R
        # Pitfall 5: lifetime 0 also caps bounce_queue_lifetime, only here.
        self.lab.set(maximal_queue_lifetime="0")
        try:
            mark = self.lab.log_mark()
            dsn, d, t = self.bounce_of(addr, mark)
        finally:
            self.lab.set(maximal_queue_lifetime="1h")
        self.assertIn("status=sent", d["line"])
        # bounced answered 250 (committed) and one soft bounce is not enough.
        self.assert_ok(addr)
        time.sleep(WITHIN)
        self.assert_ok(addr)

    def test_3_delay_warning_does_not_suppress(self):
        addr = "delay1@" + R
        self.lab.set(delay_warning_time="1s")
        try:
            mark = self.lab.log_mark()
            dsn, d, t = self.bounce_of(addr, mark, kind="delay")
            self.assert_ok(addr)
            time.sleep(WITHIN)
            self.assert_ok(addr)
        finally:
            self.lab.delete_queue()
            self.lab.set(delay_warning_time="0h")

    def test_4_xverp_recipient_recovered_from_envelope(self):
        # a) Postfix's own DSN for an XVERP message: one DSN per recipient,
        # delivered to bounces+verp1=remote.test@bounce.test.
        addr = "verp1@" + R
        mark = self.lab.log_mark()
        dsn, d, t = self.bounce_of(addr, mark, xverp=True)
        self.assertEqual(d["to"], "bounces+verp1=%s@%s" % (R, L.BOUNCE_DOMAIN))
        self.assert_suppressed(addr, "hard", t)
        # b) a bounce that names nobody: only the VERP envelope says who.
        addr = "verp2@" + R
        verp = "bounces+verp2=%s@%s" % (R, L.BOUNCE_DOMAIN)
        self.assert_ok(addr)
        mark = self.lab.log_mark()
        r = self.lab.send("", [verp], body=ANONYMOUS_BOUNCE, headers={
            "From": "Mail Delivery Subsystem <MAILER-DAEMON@%s>" % R,
            "To": verp,
            "Subject": "Undeliverable: lab test message",
            "Auto-Submitted": "auto-replied"})
        self.assertTrue(r.queue_id, r)
        d, t = self.lab.wait_sent(r.queue_id, after=mark)
        self.assertEqual(d["to"], verp)
        self.assert_suppressed(addr, "hard", t)

    def test_5_bounced_down_dsn_stays_queued_then_processed(self):
        addr = "down1@" + R
        self.assertEqual(self.bounced.stop(), 0, "bounced's exit status after SIGTERM"
                         + self.diag())
        mark = self.lab.log_mark()
        r = self.lab.send(RP, [addr])
        dsn = self.lab.wait_dsn(r.queue_id, after=mark)
        self.lab.wait_log(r"postfix/lmtp\[\d+\]: %s: .*status=deferred" % dsn, after=mark)
        queued = [m for m in self.lab.queue() if m["queue_id"] == dsn]
        self.assertTrue(queued, "the DSN is not in the queue: %s" % self.lab.queue())
        self.assertEqual(queued[0]["recipients"][0]["address"], RP)
        # Back: Postfix retries (queue_run_delay=1s) and bounced takes it.
        self.bounced.start()
        d, t = self.lab.wait_sent(dsn, after=mark, timeout=30)
        self.assert_suppressed(addr, "hard", t)
        self.lab.wait_queue_empty(10)
        sent = [x for x in self.lab.deliveries(mark, "lmtp", "sent") if x["qid"] == dsn]
        self.assertEqual(len(sent), 1, "the DSN was delivered %d times" % len(sent))

    def test_6_socketmap_makes_postfix_refuse(self):
        addr = "sm1@" + R
        mark = self.lab.log_mark()
        dsn, d, t = self.bounce_of(addr, mark)
        p = self.assert_suppressed(addr, "hard", t)
        self.lab.set(smtpd_recipient_restrictions="check_recipient_access socketmap:unix:%s:%s"
                     % (self.bounced.paths["socketmap"], "suppressed"),
                     recipient_delimiter="+")
        try:
            r = self.lab.send(RP, [addr, "sm1+news@" + R, "fine@" + R])
            self.assertIn(addr, r.refused, "Postfix accepted mail to a suppressed address: %r"
                          % r + self.diag())
            code, text = r.refused[addr]
            self.assertTrue(500 <= code < 600, "refused with %d %s" % (code, text))
            self.assertTrue(re.search(r"(?i)%s|%s|suppress" % (re.escape(p["cause"]),
                                                               re.escape(p["reason"])), text),
                            "the refusal does not give the reason: %d %s" % (code, text))
            # recipient_delimiter: the extension of a suppressed address too.
            self.assertIn("sm1+news@" + R, r.refused, r)
            # An address that is not suppressed passes.
            self.assertNotIn("fine@" + R, r.refused, r)
            self.assertTrue(r.queue_id, r)
        finally:
            self.lab.set(smtpd_recipient_restrictions="", recipient_delimiter="")


if __name__ == "__main__":
    sys.exit(L.unittest_main("test_e2e", need_bounced=True))
