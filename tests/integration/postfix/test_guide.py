#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_guide.py - doc/postfix.md, block by block, against a real Postfix.

The fenced blocks of the guide are read from the file (```KIND ID), their
paths pointed at a private Postfix (lab.py) and a real bounced, applied in
the guide's order, and the behaviour the guide promises is checked:

  sh helper: the shell function every postconf snippet uses (adds, never
      replaces); each snippet is run twice and must change nothing the
      second time
  master.cf service + transport domain + sh domain
      Postfix's own DSN and a bounce from a remote MTA (a client outside
      mynetworks, source 127.0.0.2) reach bounced over the unchrooted
      "bounced" service; the bounce domain does not make an open relay
  transport/sh address
      bounces@example.com and bounces+x@example.com go to bounced, the
      other addresses of example.com where they went before
  sh sendmail, php mail, php.ini sendmail_path, php phpmailer,
  python smtplib: the remote MX sees MAIL FROM:<bounces@bounce.example.com>
  sh verp, sh sendmail-verp, python smtplib-verp, php phpmailer-verp:
      one copy per recipient with the VERP Return-Path (XVERP refused
      before sh verp); the VERP bounce suppresses its recipient
  sh refuse: the policy service (chrooted smtpd, unix:private/...) refuses
      a suppressed remote recipient of a mynetworks client with the reason,
      accepts the others; a suppressed address of a hosted domain still
      receives mail from the Internet; bounced stopped: accepted
      (fail-open), sh fail-closed: 451 4.3.5, never a 5xx
  sh sendmail-check: mail injected by sendmail to a suppressed recipient
      bounces to the sender with the reason, nothing is sent to the
      remote; other recipients are delivered
  sh check: postmap -q answers as the guide says
  ini php-fpm, sh delay-warning: the pool's Return-Path reaches the remote
      MX; delay_warning_time is set only when it was 0h
  yaml trust + sh sign: Postfix signs the Return-Path through
      proxy:socketmap, the remote MX sees it signed, its bounce suppresses,
      a forged bounce from the Internet does not

The lab runs Postfix with Debian's chroot column (master.cf.dist) so the
guide's chroot advice is tested too.  Every block with a KIND must be used
by this test: a block added to the guide without a test fails it.

    BOUNCED=build/bounced/bounced tests/integration/postfix/test_guide.py [-v]

Exit 77 (skipped) when not root, without Postfix, or without $BOUNCED;
the PHP blocks need php-cli and libphp-phpmailer (skipped, and reported,
without them).
"""

import os
import re
import shlex
import shutil
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402

GUIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "doc",
                     "postfix.md")
R = L.REMOTE_DOMAIN
RP = "bounces@bounce.example.com"
DEAD = "dead@" + R
CUSTOMER = "customer@" + R

# Debian's master.cf.dist runs these services chrooted (column 5 "y").
DEBIAN_CHROOTED = {"smtpd", "pickup", "cleanup", "tlsmgr", "trivial-rewrite", "bounce",
                   "verify", "flush", "smtp", "showq", "error", "discard", "lmtp", "anvil",
                   "scache"}

MESSAGE = """From: Shop <shop@example.com>
To: customer@example.net
Subject: Your order

Thank you for your order.
"""

PHPMAILER = "/usr/share/php/libphp-phpmailer/autoload.php"

BLOCK_RE = re.compile(r"^```(\S+)[ \t]*(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def read_blocks(path):
    """{(kind, id): text} of every fenced block with an info string."""
    out = {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in BLOCK_RE.finditer(text):
        kind, bid, body = m.group(1), m.group(2), m.group(3)
        if not bid:
            raise AssertionError("%s: block ```%s has no id (```KIND ID)" % (path, kind))
        if (kind, bid) in out:
            raise AssertionError("%s: two blocks ```%s %s" % (path, kind, bid))
        out[(kind, bid)] = body
    return out


def main_cf_params(text):
    """'name = value' lines (continuation lines start with white space)."""
    params = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            params[-1][1] += " " + line.strip()
            continue
        k, _, v = line.partition("=")
        params.append([k.strip(), v.strip()])
    return params


def debian_chroot(lab):
    """Sets the chroot column of the lab's master.cf as Debian's
    master.cf.dist has it (DEBIAN_CHROOTED)."""
    mc = os.path.join(lab.etc, "master.cf")
    lines = []
    with open(mc) as f:
        master = f.read()
    for line in master.splitlines():
        w = line.split()
        if len(w) >= 8 and w[7] in DEBIAN_CHROOTED:
            w[4] = "y"
            line = "  ".join(w)
        lines.append(line)
    with open(mc, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_guide_script(lab, blocks, bid, sub, cwd):
    """Runs the guide's ```sh BID block as a script after its ```sh helper
    block, paths rewritten by sub, with MAIL_CONFIG pointing Postfix's
    commands at the lab; `postfix reload` is left to the caller (the lab's
    synchronous reload).  Returns (CompletedProcess, whether it reloads)."""
    helper = blocks[("sh", "helper")]
    body = sub(blocks[("sh", bid)])
    reload = "postfix reload" in body
    body = body.replace("postfix reload", ":")
    env = dict(os.environ, MAIL_CONFIG=lab.etc, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    r = subprocess.run(["sh", "-ec", helper + "\n" + body], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    return r, reload


class Guide(L.LabTestCase):
    bounced = None
    blocks = None
    used = set()

    @classmethod
    def setUpClass(cls):
        cls.blocks = read_blocks(GUIDE)
        lab = L.Lab(start=False)
        cls.lab = lab
        try:
            # Debian's chroot settings; mynetworks = 127.0.0.1 only, so a
            # client from 127.0.0.2 is "the Internet"; XVERP not yet allowed
            debian_chroot(lab)
            main = os.path.join(lab.etc, "main.cf")
            with open(main) as f:
                text = f.read()
            text = re.sub(r"(?m)^(mynetworks|smtpd_authorized_verp_clients) = .*\n", "", text)
            text += "mynetworks = 127.0.0.1/32\n"
            with open(main, "w") as f:
                f.write(text)
            lab.start()
            lab.remote({DEAD: "550 5.1.1 <%s>: Recipient address rejected: User unknown" % DEAD,
                        "verp@" + R: "550 5.1.1 <verp@%s>: User unknown" % R})
            cls.check_port = L.free_port()
            cls.bounced = L.Bounced(lab).start()
            cls.work = os.path.join(lab.dir, "app")
            os.makedirs(cls.work)
            with open(os.path.join(cls.work, "message.txt"), "w") as f:
                f.write(cls.sub(MESSAGE))
        except BaseException:
            lab.stop()
            raise

    # -- the guide's blocks, pointed at the lab ---------------------------------

    @classmethod
    def sub(cls, text):
        lab = cls.lab
        return (text.replace("/run/bounced/", lab.run + "/")
                .replace("/etc/postfix/", lab.etc + "/")
                .replace("10027", str(cls.check_port))
                .replace("example.net", R))

    def block(self, kind, bid):
        key = (kind, bid)
        self.assertIn(key, self.blocks, "doc/postfix.md has no ```%s %s block" % key)
        type(self).used.add(key)
        return self.blocks[key]

    def apply_main_cf(self, bid):
        params = main_cf_params(self.sub(self.block("main.cf", bid)))
        self.assertTrue(params, "main.cf %s is empty" % bid)
        subprocess.run([L._sbin("postconf"), "-c", self.lab.etc, "-e"]
                       + ["%s=%s" % (k, v) for k, v in params], check=True)
        return params

    def write_transport(self, extra_lines=()):
        """The lab's own routes (remote.test -> the fake MX) + the guide's."""
        lines = ["%s smtp:[127.0.0.1]:%d" % (R, self.lab.remote_port)]
        lines += list(extra_lines)
        for key in sorted(self.used):
            if key[0] == "transport":
                lines += [l for l in self.sub(self.blocks[key]).splitlines() if l.strip()]
        with open(os.path.join(self.lab.etc, "transport"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def run_sh(self, bid):
        """Runs a sh block line by line: postfix reload -> the lab's synchronous
        reload; postmap/sendmail get the lab's config directory."""
        out = []
        for line in self.sub(self.block("sh", bid)).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line == "postfix reload":
                self.lab.reload()
                continue
            words = line.split(None, 1)
            if words[0] == "postmap":
                line = "%s -c %s %s" % (L._sbin("postmap"), shlex.quote(self.lab.etc), words[1])
            elif words[0] == "sendmail":
                line = "%s -C %s %s" % (L._sbin("sendmail"), shlex.quote(self.lab.etc), words[1])
            else:
                self.fail("sh %s: no rule to run %r" % (bid, line))
            out.append(subprocess.run(["sh", "-c", line], cwd=self.work, capture_output=True,
                                      text=True, timeout=60))
        return out

    def run_script(self, bid, twice=True):
        """Runs a sh block (run_guide_script); with twice, runs it again and
        asserts that main.cf and master.cf did not change (the snippets
        add, never repeat)."""
        self.block("sh", "helper")
        r, reload = run_guide_script(self.lab, self.blocks, bid, self.sub, self.work)
        self.assertEqual(r.returncode, 0, "sh %s: %s %s" % (bid, r.stdout, r.stderr))
        if twice:
            before = self.cf_text()
            r2, _ = run_guide_script(self.lab, self.blocks, bid, self.sub, self.work)
            self.assertEqual(r2.returncode, 0, "sh %s again: %s" % (bid, r2.stderr))
            self.assertEqual(self.cf_text(), before, "sh %s changed the config again" % bid)
        type(self).used.add(("sh", bid))
        if reload:
            self.lab.reload()
        return r

    def cf_text(self):
        out = []
        for name in ("main.cf", "master.cf"):
            with open(os.path.join(self.lab.etc, name)) as f:
                out.append(f.read())
        return out

    def run_php(self, source, sendmail_path=None):
        php = shutil.which("php")
        argv = [php, "-d", "display_errors=stderr", "-d", "error_reporting=-1"]
        argv += ["-d", "sendmail_path=" + (sendmail_path or "%s -C %s -t -i" % (
            L._sbin("sendmail"), self.lab.etc))]
        path = os.path.join(self.work, "app.php")
        with open(path, "w") as f:
            f.write(source)
        r = subprocess.run(argv + [path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "php: %s %s" % (r.stdout, r.stderr))
        self.assertNotIn("Warning", r.stderr + r.stdout)
        return r

    def php_ok(self):
        if not shutil.which("php"):
            return "php-cli is not installed"
        return None

    # -- observations -------------------------------------------------------------

    def diag(self):
        return "\n-- maillog --\n%s\n-- bounced log --\n%s" % (self.lab.log_tail(30),
                                                               self.bounced.log_tail(20))

    def wait_remote(self, n_before, sender, rcpt, timeout=20):
        """Waits for a message to rcpt at the fake MX after index n_before;
        asserts its envelope sender; returns the index after that message
        (not the length: a next message may have arrived with it)."""
        rs = self.lab.remote_server
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with rs.lock:
                got = [i for i in range(n_before, len(rs.delivered))
                       if rcpt in rs.delivered[i][1]]
            if got:
                # sender: the address, or a pattern "^...$" (a signed sender)
                if sender.startswith("^"):
                    self.assertRegex(rs.delivered[got[0]][0], sender,
                                     "envelope sender at the remote MX" + self.diag())
                else:
                    self.assertEqual(rs.delivered[got[0]][0], sender,
                                     "envelope sender at the remote MX" + self.diag())
                return got[0] + 1
            time.sleep(0.05)
        self.fail("nothing reached the remote MX for %s%s" % (rcpt, self.diag()))

    def wait_remote_all(self, n_before, senders, rcpt, timeout=20):
        """Waits for len(senders) messages to rcpt at the fake MX after index
        n_before, in any order (separate queue files are delivered in
        parallel); each sender (an address, or a pattern "^...$") matches one
        of them.  Returns the index after the last."""
        rs = self.lab.remote_server
        deadline = time.monotonic() + timeout
        while True:
            with rs.lock:
                got = [i for i in range(n_before, len(rs.delivered))
                       if rcpt in rs.delivered[i][1]][:len(senders)]
                seen = [rs.delivered[i][0] for i in got]
            if len(got) == len(senders) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(got), len(senders), "messages to %s at the remote MX: %s%s"
                         % (rcpt, seen, self.diag()))
        left = list(seen)
        for want in senders:
            match = [x for x in left if (re.match(want, x) if want.startswith("^") else x == want)]
            self.assertTrue(match, "no envelope sender %s among %s%s" % (want, seen, self.diag()))
            left.remove(match[0])
        return got[-1] + 1

    def delivered_to_bounced(self, rcpt, after, timeout=30):
        """The maillog line of a delivery to bounced's LMTP socket for rcpt."""
        pat = r"postfix/(?:bounced|lmtp)\[\d+\]: \w+: to=<%s>, relay=[^,]*%s.*status=sent" % (
            re.escape(rcpt), re.escape(self.bounced.paths["lmtp"]))
        return self.lab.wait_log(pat, after=after, timeout=timeout)[0]

    def remote_smtp(self, rcpt, body, source="127.0.0.2"):
        """A remote MTA (outside mynetworks) delivering to this Postfix."""
        with smtplib.SMTP("127.0.0.1", self.lab.smtpd_port, local_hostname="mx.remote.test",
                          source_address=(source, 0), timeout=30) as s:
            s.ehlo()
            s.mail("")
            code, msg = s.rcpt(rcpt)
            if code not in (250, 251):
                s.rset()
                return code, msg.decode()
            code, msg = s.data(body.replace("\n", "\r\n").encode())
            return code, msg.decode()

    # -- the guide, in order ------------------------------------------------------

    def test_1_deliver_bounce_domain(self):
        lab = self.lab
        # before: the bounce domain is not ours, a remote MTA is refused
        code, msg = self.remote_smtp(RP, "Subject: x\n\nx\n")
        self.assertEqual(code, 454, "before the guide: %d %s" % (code, msg))
        # the guide's warning: Debian's chrooted lmtp service cannot reach
        # /run/bounced/lmtp.sock (the DSN stays queued: it is delivered
        # below, once the guide's service is in place)
        self.write_transport(["bounce.example.com lmtp:unix:%s" % self.bounced.paths["lmtp"]])
        lab.reload()
        mark = lab.log_mark()
        res = lab.send(RP, [DEAD])
        self.assertTrue(res.queue_id, res)
        chroot_dsn = lab.wait_dsn(res.queue_id, after=mark)
        lab.wait_log(r"postfix/lmtp\[\d+\]: %s: to=<%s>,.*status=deferred \(connect to "
                     r".*lmtp\.sock\]: No such file or directory\)" % (chroot_dsn, re.escape(RP)),
                     after=mark)
        self.assertTrue(self.bounced.check(DEAD) == "OK")
        # the guide's snippet: the unchrooted lmtp service, relay_domains,
        # transport_maps and the transport line, each added once
        self.write_transport()
        self.run_script("domain")
        svc = self.block("master.cf", "service").splitlines()[-1].split()
        got = subprocess.run([L._sbin("postconf"), "-c", lab.etc, "-M", "bounced/unix"],
                             capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(got, svc, "master.cf service")
        self.assertIn("bounce.example.com", lab.postconf("relay_domains").split())
        self.assertIn("hash:%s/transport" % lab.etc, lab.postconf("transport_maps"))
        self.assertIn("texthash:%s/transport" % lab.etc, lab.postconf("transport_maps"),
                      "the lab's own transport_maps entry was replaced")
        line = self.sub(self.block("transport", "domain")).strip()
        with open(os.path.join(lab.etc, "transport")) as f:
            self.assertEqual(f.read().splitlines().count(line), 1, "transport line")
        self.assertTrue(os.path.exists(os.path.join(lab.etc, "transport.db")), "postmap made no .db")

        # Postfix's own DSN (the remote MX refused DEAD), queued above,
        # now goes out through the guide's unchrooted service
        lab.flush()
        line = self.delivered_to_bounced(RP, mark)
        self.assertIn(chroot_dsn, line)
        self.bounced.wait_check(DEAD, lambda a: a.startswith("SUPPRESSED hard"), timeout=5)
        lab.wait_queue_empty()
        # a bounce from the Internet (not in mynetworks) to the bounce domain
        other = "gone@" + R
        mark = lab.log_mark()
        code, msg = self.remote_smtp(RP, REMOTE_DSN % {"rcpt": other})
        self.assertEqual(code, 250, "remote bounce refused: %d %s%s" % (code, msg, self.diag()))
        self.delivered_to_bounced(RP, mark)
        self.bounced.wait_check(other, lambda a: a.startswith("SUPPRESSED hard"), timeout=5)
        # and the bounce domain did not open a relay
        code, msg = self.remote_smtp("someone@elsewhere.test", "Subject: x\n\nx\n")
        self.assertEqual(code, 454, "relay from outside: %d %s" % (code, msg))

    def test_2_one_address(self):
        lab = self.lab
        # lab-only: example.com is a domain this Postfix already relays to its MX
        subprocess.run([L._sbin("postconf"), "-c", lab.etc, "-e",
                        "relay_domains=bounce.example.com example.com"], check=True)
        self.block("transport", "address")
        self.write_transport(["example.com smtp:[127.0.0.1]:%d" % lab.remote_port])
        subprocess.run([L._sbin("postmap"), "-c", lab.etc, os.path.join(lab.etc, "transport")],
                       check=True)
        self.run_script("address")
        self.assertEqual(lab.postconf("recipient_delimiter"), "+")
        lab.reload()
        for rcpt in ("bounces@example.com", "bounces+verp=%s@example.com" % R):
            mark = lab.log_mark()
            code, msg = self.remote_smtp(rcpt, REMOTE_DSN % {"rcpt": "addr1@" + R})
            self.assertEqual(code, 250, "%s: %d %s" % (rcpt, code, msg))
            self.delivered_to_bounced(rcpt, mark)
        # the rest of example.com still goes to its MX
        n = len(lab.remote_server.delivered)
        code, msg = self.remote_smtp("info@example.com", "Subject: hi\n\nhello\n")
        self.assertEqual(code, 250, msg)
        self.wait_remote(n, "", "info@example.com")

    def test_3_applications_return_path(self):
        lab = self.lab
        rs = lab.remote_server
        # sendmail -f
        n = len(rs.delivered)
        r = self.run_sh("sendmail")
        self.assertEqual(r[0].returncode, 0, r)
        n = self.wait_remote(n, RP, CUSTOMER)
        # Python smtplib
        ns = {}
        exec(compile(self.py(self.block("python", "smtplib")), "guide:smtplib", "exec"), ns)
        n = self.wait_remote(n, RP, CUSTOMER)
        type(self).py_ns = ns
        why = self.php_ok()
        if why:
            self.skipTest("PHP blocks: " + why)
        # PHP mail() with -f, and php.ini's sendmail_path
        self.run_php(self.sub(self.block("php", "mail")))
        n = self.wait_remote(n, RP, CUSTOMER)
        value = self.block("php.ini", "sendmail_path").split("=", 1)[1].strip().strip('"')
        value = value.replace("/usr/sbin/sendmail", "%s -C %s" % (L._sbin("sendmail"), lab.etc))
        self.run_php("<?php\nmail('%s', 'x', \"y\\n\");\n" % CUSTOMER, sendmail_path=value)
        n = self.wait_remote(n, RP, CUSTOMER)
        # PHPMailer
        if not os.path.exists(PHPMAILER):
            self.skipTest("PHPMailer blocks: libphp-phpmailer is not installed")
        self.run_php(self.phpmailer(self.block("php", "phpmailer")))
        self.wait_remote(n, RP, CUSTOMER)

    def py(self, code):
        return self.sub(code).replace('smtplib.SMTP("localhost", 25)',
                                      'smtplib.SMTP("127.0.0.1", %d)' % self.lab.smtpd_port)

    def phpmailer(self, code):
        return (self.sub(code).replace("$mail->Host = 'localhost';", "$mail->Host = '127.0.0.1';")
                .replace("$mail->Port = 25;", "$mail->Port = %d;" % self.lab.smtpd_port))

    def test_4_verp(self):
        lab = self.lab
        rs = lab.remote_server
        verp_sender = "bounces+customer=%s@bounce.example.com" % R
        ns = getattr(self, "py_ns", None)
        if ns is None:
            ns = {}
            exec(compile(self.py(self.block("python", "smtplib")), "guide:smtplib", "exec"), ns)
        verp_code = compile(self.py(self.block("python", "smtplib-verp")), "guide:verp", "exec")
        # before main.cf verp: XVERP is refused
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            exec(verp_code, ns)
        self.assertEqual(cm.exception.smtp_code, 555)
        self.run_script("verp")
        # added to Postfix's default ($authorized_verp_clients), not replacing it
        self.assertEqual(lab.postconf("smtpd_authorized_verp_clients"),
                         "$authorized_verp_clients, $mynetworks")
        n = len(rs.delivered)
        exec(verp_code, ns)
        n = self.wait_remote(n, verp_sender, CUSTOMER)
        r = self.run_sh("sendmail-verp")
        self.assertEqual(r[0].returncode, 0, r)
        n = self.wait_remote(n, verp_sender, CUSTOMER)
        # the VERP bounce of a refused recipient suppresses it
        mark = lab.log_mark()
        msg = ns["msg"]
        del msg["To"]
        msg["To"] = "verp@" + R
        with smtplib.SMTP("127.0.0.1", lab.smtpd_port) as smtp:
            smtp.send_message(msg, from_addr=RP, mail_options=["XVERP"])
        self.delivered_to_bounced("bounces+verp=%s@bounce.example.com" % R, mark)
        self.bounced.wait_check("verp@" + R, lambda a: a.startswith("SUPPRESSED hard"), timeout=5)
        if self.php_ok() or not os.path.exists(PHPMAILER):
            self.skipTest("PHPMailer VERP block: php-cli or libphp-phpmailer missing")
        self.run_php(self.phpmailer(self.block("php", "phpmailer") + "\n"
                                    + self.block("php", "phpmailer-verp")))
        # the block's first send() is plain, the second VERP (two queue files:
        # they reach the remote in either order)
        self.wait_remote_all(n, [RP, verp_sender], CUSTOMER)

    def inbound_smtp(self, rcpt, source="127.0.0.2"):
        """A message from the Internet (outside mynetworks): the RCPT reply."""
        with smtplib.SMTP("127.0.0.1", self.lab.smtpd_port, local_hostname="mx.remote.test",
                          source_address=(source, 0), timeout=30) as s:
            s.ehlo()
            s.mail("someone@elsewhere.test")
            code, msg = s.rcpt(rcpt)
            if code in (250, 251):
                code2, msg2 = s.data(b"Subject: hello\r\n\r\nhello\r\n")
                self.assertEqual(code2, 250, msg2)
            return code, msg.decode()

    def test_5_refuse_suppressed(self):
        lab = self.lab
        rs = lab.remote_server
        self.assertTrue(self.bounced.check(DEAD).startswith("SUPPRESSED"))
        # a hosted address (example.com is a relay domain of the lab since
        # test 2) that is suppressed
        hosted = "alice@example.com"
        self.bounced.admin("suppress", hosted)
        self.run_script("refuse")
        self.assertRegex(lab.postconf("smtpd_relay_restrictions"),
                         r"^permit_auth_destination, \$bounced_policy, permit_mynetworks")
        res = lab.send(RP, [DEAD, CUSTOMER])
        self.assertIn(DEAD, res.refused, "a suppressed recipient was accepted: %r" % res
                      + self.diag())
        code, text = res.refused[DEAD]
        self.assertEqual(code, 550, text)
        self.assertRegex(text, r"^5\.1\.1 <%s>: Recipient address rejected: suppressed: hard "
                         r"userunknown since \d{4}-\d\d-\d\dT" % re.escape(DEAD))
        self.assertNotIn(CUSTOMER, res.refused)
        self.assertTrue(res.queue_id, "the other recipient was not accepted: %r" % res)
        self.assertRegex(self.bounced.log_tail(50), r"event=policy action=reject .*sender=\"%s\" "
                         r"rcpt=\"%s\"" % (re.escape(RP), re.escape(DEAD)))
        # inbound: the suppressed hosted address still receives its mail
        n = len(rs.delivered)
        code, msg = self.inbound_smtp(hosted)
        self.assertEqual(code, 250, "inbound to a suppressed hosted address: %d %s" % (code, msg))
        self.wait_remote(n, "someone@elsewhere.test", hosted)
        # bounced down, fail-open: accepted (and the DSN of the remote's 550
        # waits in the queue for bounced)
        self.assertEqual(self.bounced.stop(), 0)
        try:
            res = lab.send(RP, [DEAD])
            self.assertEqual(res.refused, {}, "fail-open refused: %r%s" % (res, self.diag()))
            self.assertTrue(res.queue_id, res)
            self.run_script("fail-closed")
            res = lab.send(RP, [DEAD])
            code, text = res.refused.get(DEAD, (0, "accepted"))
            self.assertEqual(code, 451, "fail-closed with bounced down: %d %s" % (code, text))
            self.assertRegex(text, r"^4\.3\.5 ")
            # inbound unaffected
            code, msg = self.inbound_smtp(hosted)
            self.assertEqual(code, 250, "inbound with bounced down: %d %s" % (code, msg))
        finally:
            self.bounced.start()
        self.run_script("refuse", twice=False)      # back to fail-open
        self.assertIn("default_action=DUNNO", lab.postconf("bounced_policy"))

    def test_6_sendmail_check(self):
        lab = self.lab
        rs = lab.remote_server
        self.run_script("sendmail-check")
        before = rs.rcpt_counts.get(DEAD.lower(), 0)
        mark = lab.log_mark()
        with open(os.path.join(self.work, "dead.txt"), "w") as f:
            f.write("Subject: to a suppressed address\n\nhello\n")
        with open(os.path.join(self.work, "dead.txt")) as f:
            r = subprocess.run([L._sbin("sendmail"), "-C", lab.etc, "-f", RP, DEAD], stdin=f,
                               capture_output=True)
        self.assertEqual(r.returncode, 0, r)
        line = lab.wait_log(r"postfix/smtp\[\d+\]: \w+: to=<%s>,.*status=bounced \(host "
                            r"127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 <%s>: Recipient "
                            r"address rejected: suppressed: hard userunknown since "
                            % (re.escape(DEAD), re.escape(DEAD)), after=mark)[0]
        self.assertIn(":%d" % self.check_port, line)
        # its bounce reaches bounced like any other
        self.delivered_to_bounced(RP, mark)
        time.sleep(0.5)
        self.assertEqual(rs.rcpt_counts.get(DEAD.lower(), 0), before,
                         "the suppressed recipient was sent to the remote MX")
        # not suppressed: delivered, with the application's Return-Path
        n = len(rs.delivered)
        r = self.run_sh("sendmail")
        self.wait_remote(n, RP, CUSTOMER)
        # VERP survives the detour (sendmail -XV)
        n = len(rs.delivered)
        r = self.run_sh("sendmail-verp")
        self.assertEqual(r[0].returncode, 0, r)
        self.wait_remote(n, "bounces+customer=%s@bounce.example.com" % R, CUSTOMER)

    def test_7_check(self):
        r = self.run_sh("check")[0]
        self.assertEqual(r.returncode, 0, r)
        self.assertRegex(r.stdout, r"^550 5\.1\.1 suppressed: hard userunknown since \S+\n$")
        ok = subprocess.run([L._sbin("postmap"), "-c", self.lab.etc, "-q", CUSTOMER,
                             "socketmap:unix:%s:suppressed" % self.bounced.paths["socketmap"]],
                            capture_output=True, text=True)
        self.assertEqual((ok.returncode, ok.stdout), (1, ""), ok)

    def test_8_pools_and_delay_warning(self):
        lab = self.lab
        self.assertEqual(lab.postconf("delay_warning_time"), "0h")
        self.run_script("delay-warning")
        self.assertEqual(lab.postconf("delay_warning_time"), "4h")
        subprocess.run([L._sbin("postconf"), "-c", lab.etc, "-e", "delay_warning_time=1h"],
                       check=True)
        self.run_script("delay-warning", twice=False)
        self.assertEqual(lab.postconf("delay_warning_time"), "1h", "an admin's value was replaced")
        line = self.block("ini", "php-fpm").strip()
        self.assertTrue(line.startswith("php_admin_value[sendmail_path] = "), line)
        why = self.php_ok()
        if why:
            self.skipTest("PHP-FPM block: " + why)
        value = line.split("=", 1)[1].strip()
        value = value.replace("/usr/sbin/sendmail", "%s -C %s" % (L._sbin("sendmail"), lab.etc))
        n = len(lab.remote_server.delivered)
        self.run_php("<?php\nmail('%s', 'x', \"y\\n\");\n" % CUSTOMER, sendmail_path=value)
        self.wait_remote(n, "bounces+shop@bounce.example.com", CUSTOMER)

    def test_8z_sign(self):
        """Section 6: bounced's config as the guide says, Postfix signs through
        proxy:socketmap (cleanup is chrooted), the remote sees the signed
        sender, the real bounce counts and a forgery from the Internet does not."""
        lab = self.lab
        keys = os.path.join(self.bounced.dir, "signing-keys")
        # the block as written: the key file goes beside store.secret_file
        trust = self.sub(self.block("yaml", "trust"))
        self.bounced.stop()
        with open(self.bounced.config, "w") as f:
            f.write(L.bounced_config(self.bounced.paths, trust))
        self.bounced.start()
        self.assertTrue(os.path.exists(keys), "no key created at the first start")
        self.assertEqual(os.stat(keys).st_mode & 0o777, 0o600)
        self.run_script("sign")
        signed = "signed@" + R
        lab.remote_server.set_rule(signed, "550 5.1.1 <%s>: User unknown" % signed)
        mark = lab.log_mark()
        r = self.run_sh_line("sendmail -f %s %s < message.txt" % (RP, signed))
        self.assertEqual(r.returncode, 0, r.stderr)
        # the remote refused it at RCPT: the envelope it saw is in Postfix's
        # log, and the DSN comes back to that signed address
        line = lab.wait_log(r"postfix/qmgr\[\d+\]: \w+: from=<prvs=\d{4}[0-9a-f]{10}=%s>"
                            % re.escape(RP), after=mark)[0]
        sender = re.search(r"from=<([^>]*)>", line).group(1)
        self.delivered_to_bounced(sender, mark)
        self.bounced.wait_check(signed, lambda a: a.startswith("SUPPRESSED hard"), timeout=5)
        # a forged DSN from the Internet to the (unsigned) Return-Path
        victim = "boss@" + R
        code, msg = self.remote_smtp(RP, "From: MAILER-DAEMON@mx.evil.example\n"
                                     "Subject: Undelivered Mail\n\n"
                                     "<%s>: host said: 550 5.1.1 User unknown\n" % victim)
        self.assertEqual(code, 250, msg)
        self.delivered_to_bounced(RP, mark)
        time.sleep(0.3)
        self.assertEqual(self.bounced.check(victim), "OK", "a forgery suppressed" + self.diag())
        # the applications of section 3 and 4, unchanged, now send signed mail
        rs = lab.remote_server
        signed_rp = r"^prvs=\d{4}[0-9a-f]{10}=%s$" % re.escape(RP)
        n = len(rs.delivered)
        r = self.run_sh("sendmail")
        self.assertEqual(r[0].returncode, 0, r)
        n = self.wait_remote(n, signed_rp, CUSTOMER)
        exec(compile(self.py(self.block("python", "smtplib")), "guide:smtplib", "exec"), {})
        n = self.wait_remote(n, signed_rp, CUSTOMER)
        exec(compile(self.py(self.block("python", "smtplib")) + "\n"
                     + self.py(self.block("python", "smtplib-verp")), "guide:verp", "exec"), {})
        n = self.wait_remote_all(n, [signed_rp, r"^prvs=\d{4}[0-9a-f]{10}=bounces\+customer="
                                     r"%s@bounce\.example\.com$" % re.escape(R)], CUSTOMER)
        if self.php_ok() is None and os.path.exists(PHPMAILER):
            self.run_php(self.sub(self.block("php", "mail")))
            n = self.wait_remote(n, signed_rp, CUSTOMER)
            self.run_php(self.phpmailer(self.block("php", "phpmailer")))
            n = self.wait_remote(n, signed_rp, CUSTOMER)

    def run_sh_line(self, line):
        line = line.replace("sendmail ", "%s -C %s " % (L._sbin("sendmail"),
                                                        shlex.quote(self.lab.etc)), 1)
        return subprocess.run(["sh", "-c", line], cwd=self.work, capture_output=True, text=True,
                              timeout=60)

    def test_9_every_block_used(self):
        unused = set(self.blocks) - type(self).used
        if self.php_ok() or not os.path.exists(PHPMAILER):
            unused -= {k for k in unused if k[0] in ("php", "php.ini")}
        self.assertFalse(unused, "blocks of doc/postfix.md no test exercises: %s"
                         % sorted(unused))


# A bounce as a remote MTA sends it (RFC 3464).
REMOTE_DSN = """From: MAILER-DAEMON@mx.remote.test
To: bounces@bounce.example.com
Subject: Delivery Status Notification (Failure)
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Delivery to %(rcpt)s failed permanently.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.test

Final-Recipient: rfc822; %(rcpt)s
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <%(rcpt)s>: User unknown

--B--
"""


if __name__ == "__main__":
    sys.exit(L.unittest_main("test_guide", need_bounced=True))
