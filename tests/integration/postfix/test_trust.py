#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_trust.py - issue 13: only real bounces count.  A real Postfix signs
the envelope sender through bounced's socketmap (sender_canonical_maps
socketmap:...:sign), delivers the DSNs to bounced over LMTP, and bounced
trusts only bounces that come back on a valid tag (trust.mode: signed).

    BOUNCED=build/bounced/bounced tests/integration/postfix/test_trust.py [-v]

Exit 77 (skipped) when not root, without Postfix or without $BOUNCED.
"""

import hashlib
import hmac
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402

R = L.REMOTE_DOMAIN
B = L.BOUNCE_DOMAIN
RP = L.RETURN_PATH
HARD = "550 5.1.1 <%s>: Recipient address rejected: User unknown"
FAIL = ("signed1", "xverp1", "appverp1", "sendmail1", "over0", "over1", "loop1")
RULES = {"%s@%s" % (a, R): HARD % ("%s@%s" % (a, R)) for a in FAIL}

TAG = re.compile(r"^prvs=(\d)(\d{3})([0-9a-f]{10})=(.*)$")

# An RFC 3464 report an attacker writes by hand (issue 13's first forgery).
FORGED_DSN = """\
This is a MIME-encapsulated message.

--BOUNDARY
Content-Type: text/plain

Delivery to the following recipient failed permanently: {victim}

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.evil.example

Final-Recipient: rfc822; {victim}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--BOUNDARY--
"""
FORGED_HEADERS = {"Content-Type": 'multipart/report; report-type=delivery-status; '
                  'boundary="BOUNDARY"', "Subject": "Undelivered Mail Returned to Sender"}

# The second forgery: three lines of prose to a VERP address.
PROSE = "Your message could not be delivered.\n550 5.1.1 User unknown\nGoodbye.\n"


def day_now():
    return (int(time.time()) // 86400) % 1000


class Trust(L.BouncedLabTestCase):
    @classmethod
    def set_up_lab(cls):
        cls.lab.remote(RULES)
        cls.metrics_port = L.free_port()
        cls.keys = os.path.join(cls.lab.dir, "bounced", "signing-keys")
        cls.bounced = L.Bounced(cls.lab, extra_config=(
            'trust:     {{ mode: signed, domains: [{b}], keys_file: "{k}" }}\n'
            'metrics:   {{ http: "127.0.0.1:{p}" }}\n'
            .format(b=B, k=cls.keys, p=cls.metrics_port))).start()
        b = cls.bounced
        cls.smap = "socketmap:unix:%s" % b.paths["socketmap"]
        # as doc/postfix.md says: Postfix signs, applications change nothing
        cls.lab.set(sender_canonical_maps=cls.smap + ":sign",
                    sender_canonical_classes="envelope_sender")

    # -- helpers --------------------------------------------------------------

    def db(self, sql, *args):
        c = sqlite3.connect("file:%s?mode=ro" % self.bounced.db, uri=True, timeout=5)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def metric(self, name):
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                      timeout=5).read().decode()
        m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
        return int(m.group(1)) if m else None

    def bounce_of(self, rcpt, xverp=False, sender=RP):
        mark = self.lab.log_mark()
        r = self.lab.send(sender, [rcpt], xverp=xverp)
        self.assertTrue(r.queue_id, r)
        dsn = self.lab.wait_dsn(r.queue_id, after=mark)
        d, _ = self.lab.wait_sent(dsn, after=mark)
        return d

    def deliver(self, mail_from, rcpt, body, headers=None):
        """A message through the lab's smtpd to the bounce domain; waits until
        bounced took it.  Returns the bounce row (untrusted, trust)."""
        mark = self.lab.log_mark()
        h = {"From": "MAILER-DAEMON@mx.evil.example", "To": rcpt}
        h.update(headers or {})
        r = self.lab.send(mail_from, [rcpt], headers=h, body=body)
        self.assertTrue(r.queue_id, r)
        self.lab.wait_sent(r.queue_id, after=mark)
        return self.db("SELECT untrusted, trust FROM bounce ORDER BY id DESC LIMIT 1")[0]

    def tag(self, addr, key_id=0, day=None, flip=False):
        """A tag made here from the key file, independently of bounced."""
        with open(self.keys) as fh:
            for line in fh:
                f = line.split()
                if f and not f[0].startswith("#") and int(f[0]) == key_id:
                    key = bytes.fromhex(f[1])
        day = day_now() if day is None else day % 1000
        mac = hmac.new(key, ("%d %03d %s" % (key_id, day, addr)).encode(),
                       hashlib.sha256).hexdigest()[:10]
        if flip:
            mac = ("1" if mac[0] == "0" else "0") + mac[1:]
        return "prvs=%d%03d%s=%s" % (key_id, day, mac, addr)

    def assert_suppressed(self, addr):
        self.bounced.wait_check(addr, lambda a: a.startswith("SUPPRESSED hard"), timeout=5)

    def assert_ok(self, addr):
        self.assertEqual(self.bounced.check(addr), "OK", addr + self.diag())

    # -- signed mail: trusted with no change in the applications --------------

    def test_1_smtp_sender_signed_and_dsn_trusted(self):
        addr = "signed1@" + R
        d = self.bounce_of(addr)
        m = TAG.match(d["to"])
        self.assertTrue(m, "the DSN did not come back on a signed address: %s" % d["to"])
        self.assertEqual(m.group(4), RP)
        self.assert_suppressed(addr)
        self.assertIsNone(self.db("SELECT untrusted FROM bounce ORDER BY id DESC LIMIT 1")[0][0])
        self.assertGreaterEqual(self.metric('bounced_socketmap_requests_total{result="signed"}'),
                                1)

    def test_2_xverp_keeps_the_tag(self):
        addr = "xverp1@" + R
        d = self.bounce_of(addr, xverp=True)
        m = TAG.match(d["to"])
        self.assertTrue(m, d["to"])
        self.assertEqual(m.group(4), "bounces+xverp1=%s@%s" % (R, B))
        self.assert_suppressed(addr)

    def test_3_application_verp_signed_once(self):
        addr = "appverp1@" + R
        d = self.bounce_of(addr, sender="bounces+appverp1=%s@%s" % (R, B))
        m = TAG.match(d["to"])
        self.assertTrue(m, d["to"])
        self.assertEqual(m.group(4), "bounces+appverp1=%s@%s" % (R, B))
        self.assertNotIn("prvs=", m.group(4), "signed twice")
        self.assert_suppressed(addr)

    def test_4_sendmail_f(self):
        addr = "sendmail1@" + R
        mark = self.lab.log_mark()
        subprocess.run([L._sbin("sendmail"), "-C", self.lab.etc, "-f", RP, addr],
                       input=b"Subject: sendmail -f\n\nhello\n", check=True, timeout=30)
        self.lab.wait_log(r"postfix/lmtp\[\d+\]: \w+: to=<prvs=\d{4}[0-9a-f]{10}=%s>.*"
                          r"status=sent" % re.escape(RP), after=mark)
        self.assert_suppressed(addr)

    # -- forgeries: stored, untrusted, CHECK stays OK ---------------------------

    def test_5_forgeries_stored_untrusted(self):
        before = self.metric('bounced_bounces_untrusted_total{cause="tag-absent"}')
        cases = [
            ("attacker@evil.example", RP, FORGED_DSN, FORGED_HEADERS, "boss@bigclient.example"),
            ("", RP, FORGED_DSN, FORGED_HEADERS, "boss@bigclient.example"),
            ("attacker@evil.example", "bounces+boss3=bigclient.example@" + B, PROSE, None,
             "boss3@bigclient.example"),
            ("", "bounces+boss3=bigclient.example@" + B, PROSE, None,
             "boss3@bigclient.example"),
            ("", "bounces+boss4=bigclient.example@" + B, FORGED_DSN.format(
                victim="boss4@bigclient.example"), FORGED_HEADERS, "boss4@bigclient.example"),
        ]
        for sender, rcpt, body, headers, victim in cases:
            with self.subTest(sender=sender, rcpt=rcpt):
                untrusted, trust = self.deliver(sender, rcpt, body.format(victim=victim),
                                                headers)
                self.assertEqual(untrusted, "tag-absent", trust)
                self.assertIn("tag=absent", trust)
                self.assertIn("sender=%s" % ("null" if not sender else "non-null"), trust)
                self.assert_ok(victim)
        # the events are kept as evidence, flagged
        n = self.db("SELECT count(*) FROM event WHERE address LIKE 'boss%' AND untrusted = 1")
        self.assertGreaterEqual(n[0][0], len(cases))
        self.assertEqual(self.db("SELECT count(*) FROM incident")[0][0], 0)
        self.assertEqual(self.metric('bounced_bounces_untrusted_total{cause="tag-absent"}'),
                         before + len(cases))
        # what an admin sees: show says UNTRUSTED and why, list finds them
        ctl = os.environ.get("BOUNCECTL") or os.path.join(
            os.path.dirname(self.bounced.binary), "..", "tools", "bouncectl")
        if os.access(ctl, os.X_OK):
            sock = ["--socket", self.bounced.paths["admin"]]
            r = subprocess.run([ctl] + sock + ["show", "boss@bigclient.example"],
                               capture_output=True, text=True, timeout=30)
            self.assertIn("UNTRUSTED (tag-absent; tag=absent sender=non-null", r.stdout,
                          r.stdout + r.stderr)
            self.assertIn("never suppresses", r.stdout)
            r = subprocess.run([ctl] + sock + ["list", "--state", "untrusted", "--all"],
                               capture_output=True, text=True, timeout=30)
            for v in ("boss@bigclient.example", "boss3@bigclient.example",
                      "boss4@bigclient.example"):
                self.assertIn(v, r.stdout, r.stdout + r.stderr)
            self.assertNotIn("signed1@", r.stdout)

    def test_6_bad_expired_tags_refused(self):
        for victim, rcpt, cause in (
                ("exp1@bigclient.example", self.tag(RP, day=day_now() - 30), "tag-expired"),
                ("bad1@bigclient.example", self.tag(RP, flip=True), "tag-bad-signature"),
                ("unk1@bigclient.example", "prvs=9%03d0123456789=%s" % (day_now(), RP),
                 "tag-bad-signature")):
            with self.subTest(cause=cause):
                untrusted, trust = self.deliver("", rcpt, FORGED_DSN.format(victim=victim),
                                                FORGED_HEADERS)
                self.assertEqual(untrusted, cause, trust)
                self.assert_ok(victim)
        # and a tag made here with the right key counts (the format is as documented)
        untrusted, trust = self.deliver("", self.tag(RP), FORGED_DSN.format(
            victim="good1@bigclient.example"), FORGED_HEADERS)
        self.assertIsNone(untrusted, trust)
        self.assert_suppressed("good1@bigclient.example")

    def test_7_rotation_overlap_then_rotated_out(self):
        def rotate(*args):
            r = subprocess.run([self.bounced.binary, "--config", self.bounced.config,
                                "--rotate-key"] + list(args), capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            mark = self.lab.log_mark()
            with open(self.bounced.log_path) as fh:
                seen = fh.read().count("what=signing_keys keys=%d" % len(self.key_ids()))
            self.bounced.proc.send_signal(1)     # SIGHUP: the keys are read again
            want = "what=signing_keys keys=%d" % len(self.key_ids())

            def reloaded():
                with open(self.bounced.log_path) as fh:
                    return fh.read().count(want) > seen
            L.wait_until(reloaded, 10, what="keys reloaded")
            return mark
        rotate()
        self.assertEqual(sorted(self.key_ids()), [0, 1])
        # overlap: real mail signed with the new key, and a tag of the old key, both count
        d = self.bounce_of("over1@" + R)
        self.assertTrue(d["to"].startswith("prvs=1"), d["to"])
        self.assert_suppressed("over1@" + R)
        untrusted, trust = self.deliver("", self.tag(RP, key_id=0), FORGED_DSN.format(
            victim="over0@" + R), FORGED_HEADERS)
        self.assertIsNone(untrusted, trust)
        self.assert_suppressed("over0@" + R)
        # key 1 compromised: rotated out at once (--overlap 0)
        rotate("--overlap", "0")
        untrusted, trust = self.deliver("", self.tag(RP, key_id=1), FORGED_DSN.format(
            victim="rot1@bigclient.example"), FORGED_HEADERS)
        self.assertEqual(untrusted, "tag-retired-key", trust)
        self.assert_ok("rot1@bigclient.example")

    def key_ids(self):
        with open(self.keys) as fh:
            return [int(l.split()[0]) for l in fh if l.strip() and l[0] != "#"]

    # -- bounced's own refusal, bounced three times ------------------------------

    def test_8_own_refusal_not_a_bounce(self):
        addr = "loop1@" + R
        self.bounce_of(addr)
        self.assert_suppressed(addr)
        events = self.db("SELECT count(*) FROM event WHERE address = ? AND class != 0", addr)[0][0]
        refusals = self.metric("bounced_refusals_total")
        self.lab.set(transport_maps="%s:suppressed_transport, texthash:%s/transport"
                     % (self.smap, self.lab.etc))
        try:
            for i in range(3):
                mark = self.lab.log_mark()
                subprocess.run([L._sbin("sendmail"), "-C", self.lab.etc, "-f", RP, addr],
                               input=b"Subject: to a suppressed address\n\nhello\n",
                               check=True, timeout=30)
                self.lab.wait_log(r"postfix/lmtp\[\d+\]: \w+: to=<prvs=[^>]*>.*status=sent",
                                  after=mark)
        finally:
            self.lab.set(transport_maps="texthash:%s/transport" % self.lab.etc)
        L.wait_until(lambda: self.metric("bounced_refusals_total") == refusals + 3, 5,
                     what="3 refusals counted")
        self.assertEqual(self.db("SELECT count(*) FROM event WHERE address = ? AND class != 0",
                                 addr)[0][0], events, "a refusal was counted as a bounce")
        rows = self.db("SELECT class, rule FROM event WHERE address = ? AND rule = ?", addr,
                       "bounced-refusal")
        self.assertEqual(len(rows), 3, self.diag())
        self.assertEqual(self.db("SELECT count(*) FROM incident")[0][0], 0)


if __name__ == "__main__":
    sys.exit(L.unittest_main("test_trust", need_bounced=True))
