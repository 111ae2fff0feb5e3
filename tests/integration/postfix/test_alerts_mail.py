# SPDX-License-Identifier: MIT
"""test_alerts_mail.py - issue 17's mail sink through the real Postfix lab:
bounced (alerts.mail.to: admin@remote.test) hands the incident summary to
the lab's own sendmail (postdrop -> pickup -> cleanup -> qmgr -> smtp), which
delivers it to the lab's remote MX (the admin's mailbox here).  An Orange
group block opens one incident: exactly one mail arrives, from the null
sender, however many more failures the incident gets; greylisting sends
none.

    BOUNCED=build/bounced/bounced tests/integration/postfix/test_alerts_mail.py

Exit 77 (skipped) when not root, without Postfix, or without bounced.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import lab as L  # noqa: E402

ADMIN = "admin@" + L.REMOTE_DOMAIN
BLOCK = "550 5.7.1 Service refuse. Veuillez essayer plus tard. OFR_506 [506]"
GREY = "450 4.2.0 <%(r)s>: Recipient address rejected: Greylisted, see http://postgrey.test/"


class AlertMail(L.LabTestCase):
    @classmethod
    def setUpClass(cls):
        import bouncedtest as bt
        cls.bt = bt
        os.environ["BOUNCED_BIN"] = L.bounced_binary()
        cls.lab = L.Lab()
        cls.remote = cls.lab.remote()
        # the lab's sendmail: Postfix's, with the lab's config directory
        cls.sendmail = os.path.join(cls.lab.dir, "sendmail")
        with open(cls.sendmail, "w") as f:
            f.write("#!/bin/sh\nexec %s -C %s \"$@\"\n"
                    % (L._sbin("sendmail"), cls.lab.etc))
        os.chmod(cls.sendmail, 0o755)
        # as root: Postfix's sendmail takes -C of another config only from root
        cls.d = bt.Daemon(user="", sections={
            "alerts": "  mail:\n    to: %s\n    sendmail: %s\n" % (ADMIN, cls.sendmail),
            "policy": "  provider_groups:\n"
                      "    orange: [orange.fr, wanadoo.fr, laposte.net, sfr.fr]\n",
        })
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        super().tearDownClass()

    def deliver(self, rcpt, diag, msgid, status="5.7.1", action="failed"):
        c = self.bt.lmtp_session(self.d)
        r = c.deliver(self.bt.dsn(rcpt, status=status, diag=diag, msgid=msgid, action=action))
        c.close()
        self.assertTrue(r[0].startswith("250"), r)

    def mails(self):
        with self.remote.lock:
            return [(s, r) for s, r in self.remote.delivered if ADMIN in r]

    def test_1_greylist_sends_nothing(self):
        for i in range(3):
            self.deliver("grey%d@orange.fr" % i, GREY, "<grey-%d@app.test>" % i,
                         status="4.2.0", action="delayed")
        time.sleep(3)
        self.assertEqual(self.mails(), [])

    def test_2_one_mail_per_incident(self):
        t0 = time.monotonic()
        self.deliver("a@orange.fr", BLOCK, "<m1@app.test>")
        self.deliver("b@wanadoo.fr", BLOCK, "<m2@app.test>")
        L.wait_until(lambda: self.mails(), 30, what="the alert mail at the admin's MX")
        print("alert mail at the admin's MX %.2f s after the second DSN"
              % (time.monotonic() - t0))
        sender, rcpts = self.mails()[0]
        self.assertEqual(sender, "", "the null sender")
        self.assertEqual(rcpts, [ADMIN])
        # sendmail's exit is reaped by the next tick (1 s): then marked sent
        L.wait_until(lambda: self.d.grep("event=alert_sent"), 5, what="alert_sent logged")
        # the same incident grows: no second mail
        for i in range(3):
            self.deliver("c%d@laposte.net" % i, BLOCK, "<m3-%d@app.test>" % i)
        time.sleep(4)
        self.assertEqual(len(self.mails()), 1, self.mails())

    def test_3_never_through_a_suppressed_path(self):
        """The admin address suppressed in bounced: the next incident's mail is
        not handed to sendmail (Postfix would refuse it through the
        socketmap); the delivery fails, saying why."""
        data, st = self.d.admin("SUPPRESS target=%s note=test" % ADMIN)
        self.assertTrue(st.startswith("OK"), st)
        before = len(self.mails())
        self.deliver("x@gmail.com", BLOCK, "<g1@app.test>")
        self.deliver("y@gmail.com", BLOCK, "<g2@app.test>")
        L.wait_until(lambda: self.d.grep("event=alert_failed"), 10, what="alert_failed")
        data, st = self.d.admin("ALERTS limit=5")
        rows = [self.bt.fields(l) for l in data]
        gm = [r for r in rows if r["subject"] == "gmail.com" and r["sink"] == "mail"]
        self.assertEqual(len(gm), 1, rows)
        self.assertEqual(gm[0]["state"], "failed")
        self.assertIn("suppressed", gm[0]["error"])
        time.sleep(2)
        self.assertEqual(len(self.mails()), before)


if __name__ == "__main__":
    sys.exit(L.unittest_main("postfix-alerts-mail", need_bounced=True))
