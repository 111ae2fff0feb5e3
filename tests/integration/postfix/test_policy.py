#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_policy.py - issue 14 against a real Postfix: the guide's snippets
(doc/postfix.md sections 2, 5 and 6, read from the file) applied to a
Postfix that already has an admin's settings, and bounced stopped during a
stream of outbound mail.

Setup: Debian's default main.cf (main.cf.debian plus what Debian's postinst
writes for "Internet Site"), Debian's chroot column in master.cf, and an
admin's own settings that must survive: a relay_domains entry
(hosted.test, relayed to its MX), a transport_maps entry (routes.test to
another next hop), and a check_policy_service for another service in
smtpd_recipient_restrictions (a small policy server in this script that
refuses blocked@hosted.test and counts its requests).

  test_1_guide_keeps_admin_settings
      after the guide: every setting above is still in main.cf and still
      works (the other policy service is asked and refuses, hosted.test and
      routes.test are delivered), mail to the bounce domain reaches bounced
  test_2_inbound_outbound
      alice@hosted.test suppressed: mail from the Internet to her is
      delivered; mail from mynetworks to dead@remote.test is refused at RCPT
      (550) over SMTP, and bounced to the sender with the reason when
      injected with sendmail
  test_2b_postfix_check
      bouncectl postfix-check passes the guide's configuration, says
      "missing" before it, and finds each harmful configuration (exit 5)
  test_5_socket_activation_restart
      fail-closed with the sockets held across a restart (as systemd's
      socket units do): SMTP submissions during the restart wait and are
      accepted, none gets a 451
  test_3_stream_fail_open / test_4_stream_fail_closed
      COUNT messages to remote recipients, half by SMTP and half by
      sendmail, paced so that bounced is stopped for STOP seconds in the
      middle.  Fail-open: every message delivered, none refused.
      Fail-closed: SMTP clients get 4xx (never 5xx) and retry after the
      restart; sendmail messages stay queued and are delivered after it;
      nothing accepted is lost either way.

    BOUNCED=build/bounced/bounced tests/integration/postfix/test_policy.py
    ... test_policy.py --full              the issue's 1,000 messages, 60 s
    ... test_policy.py --count N --stop S  anything else
Defaults (CI): 200 messages, 10 s.  Prints the figures of each stream.
"""

import argparse
import os
import re
import smtplib
import socket
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
import test_guide as G  # noqa: E402

R = L.REMOTE_DOMAIN
RP = "bounces@bounce.example.com"
HOSTED = "hosted.test"
ROUTED = "routes.test"
DEAD = "dead@" + R
ALICE = "alice@" + HOSTED
BLOCKED = "blocked@" + HOSTED

COUNT, STOP = 200, 10.0

# Debian 12's main.cf after `apt install postfix` ("Internet Site"): the
# package's main.cf.debian plus the lines its postinst writes; the lab's own
# host, network and spool lines are appended after them by lab.py.
DEBIAN_MAIN_CF = """\
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
compatibility_level = 3.6
smtpd_tls_security_level = may
smtp_tls_security_level = may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
mailbox_size_limit = 0
recipient_delimiter = +
"""


class _PolicyHandler(socketserver.StreamRequestHandler):
    """The admin's other policy service: refuses BLOCKED, DUNNO otherwise."""

    def handle(self):
        srv = self.server
        while True:
            attrs = {}
            while True:
                line = self.rfile.readline(4096)
                if not line:
                    return
                line = line.decode("utf-8", "replace").rstrip("\n")
                if not line:
                    break
                k, _, v = line.partition("=")
                attrs[k] = v
            with srv.lock:
                srv.requests += 1
            if attrs.get("recipient", "").lower() == BLOCKED:
                self.wfile.write(b"action=REJECT other policy says no\n\n")
            else:
                self.wfile.write(b"action=DUNNO\n\n")


class OtherPolicy(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _PolicyHandler)
        self.lock = threading.Lock()
        self.requests = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class Policy(L.LabTestCase):
    @classmethod
    def setUpClass(cls):
        cls.blocks = G.read_blocks(G.GUIDE)
        cls.other = OtherPolicy()
        lab = L.Lab(start=False)
        cls.lab = lab
        try:
            cls.check_port = L.free_port()
            cls.routed_port = L.free_port()
            G.debian_chroot(lab)
            main = os.path.join(lab.etc, "main.cf")
            with open(main) as f:
                text = f.read()
            text = re.sub(r"(?m)^(mynetworks|smtpd_authorized_verp_clients|transport_maps) = .*\n",
                          "", text)
            # the admin's own settings
            text = DEBIAN_MAIN_CF + text + (
                "mynetworks = 127.0.0.1/32\n"
                "relay_domains = %s\n"
                "transport_maps = hash:%s/transport\n"
                "smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:%d\n"
                % (HOSTED, lab.etc, cls.other.server_address[1]))
            with open(main, "w") as f:
                f.write(text)
            cls.admin_transport = [
                "%s smtp:[127.0.0.1]:%d" % (R, lab.remote_port),
                "%s smtp:[127.0.0.1]:%d" % (HOSTED, lab.remote_port),
                "%s smtp:[127.0.0.1]:%d" % (ROUTED, cls.routed_port),
            ]
            with open(os.path.join(lab.etc, "transport"), "w") as f:
                f.write("\n".join(cls.admin_transport) + "\n")
            subprocess.run([L._sbin("postmap"), "-c", lab.etc,
                            os.path.join(lab.etc, "transport")], check=True)
            import shutil
            before = os.path.join(lab.dir, "etc-before")     # for postfix-check
            shutil.copytree(lab.etc, before)
            with open(os.path.join(before, "main.cf")) as f:
                text = f.read().replace(lab.etc + "/", before + "/")
            with open(os.path.join(before, "main.cf"), "w") as f:
                f.write(text)
            cls.before = {k: cls.postconf_of(lab, k) for k in (
                "relay_domains", "transport_maps", "smtpd_recipient_restrictions",
                "smtpd_relay_restrictions")}
            lab.start()
            lab.remote({DEAD: "550 5.1.1 <%s>: User unknown" % DEAD})
            cls.routed = L.RemoteSMTP(cls.routed_port)
            cls.bounced = L.Bounced(lab).start()
            cls.work = os.path.join(lab.dir, "app")
            os.makedirs(cls.work)
        except BaseException:
            lab.stop()
            cls.other.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.routed.stop()
            cls.other.stop()

    @staticmethod
    def postconf_of(lab, name):
        with open(os.path.join(lab.etc, "main.cf")) as f:
            for line in f:
                if line.startswith(name + " = "):
                    v = line.split(" = ", 1)[1].strip()
        return v

    @classmethod
    def sub(cls, text):
        return (text.replace("/run/bounced/", cls.lab.run + "/")
                .replace("/etc/postfix/", cls.lab.etc + "/")
                .replace("10027", str(cls.check_port))
                .replace("example.net", R))

    def script(self, bid):
        r, reload = G.run_guide_script(self.lab, self.blocks, bid, self.sub, self.work)
        self.assertEqual(r.returncode, 0, "sh %s: %s %s" % (bid, r.stdout, r.stderr))
        if reload:
            self.lab.reload()

    def diag(self):
        return "\n-- maillog --\n%s\n-- bounced log --\n%s" % (self.lab.log_tail(30),
                                                               self.bounced.log_tail(20))

    def inbound(self, rcpt):
        with smtplib.SMTP("127.0.0.1", self.lab.smtpd_port, local_hostname="mx.elsewhere.test",
                          source_address=("127.0.0.2", 0), timeout=30) as s:
            s.ehlo()
            s.mail("someone@elsewhere.test")
            code, msg = s.rcpt(rcpt)
            if code in (250, 251):
                code, msg = s.data(b"Subject: hello\r\n\r\nhello\r\n")
            return code, msg.decode()

    def sendmail(self, rcpt, sender=RP):
        r = subprocess.run([L._sbin("sendmail"), "-C", self.lab.etc, "-f", sender, rcpt],
                           input=b"Subject: hello\n\nhello\n", capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r)

    def delivered(self, server, rcpt):
        with server.lock:
            return any(rcpt in rc for _, rc in server.delivered)

    def wait_delivered(self, server, rcpts, timeout=60):
        rcpts = set(rcpts)

        def done():
            with server.lock:
                got = {r for _, rc in server.delivered for r in rc}
            return rcpts <= got
        try:
            L.wait_until(done, timeout, interval=0.1, what="delivery")
        except TimeoutError:
            with server.lock:
                got = {r for _, rc in server.delivered for r in rc}
            self.fail("not delivered: %s%s" % (sorted(rcpts - got)[:10], self.diag()))

    # ------------------------------------------------------------------------

    def test_1_guide_keeps_admin_settings(self):
        lab = self.lab
        for bid in ("domain", "refuse", "sendmail-check"):
            self.script(bid)
        # every setting of the admin is still there
        for k, v in self.before.items():
            now = lab.postconf(k)
            for part in re.split(r"[,\s]+", v):
                self.assertIn(part, now, "%s lost %r: %r" % (k, part, now))
        with open(os.path.join(lab.etc, "transport")) as f:
            lines = f.read().splitlines()
        for line in self.admin_transport:
            self.assertIn(line, lines)
        # ... and still works: the other policy service is asked and refuses
        n0 = self.other.requests
        res = lab.send(RP, [BLOCKED])
        self.assertEqual(res.refused.get(BLOCKED, (0,))[0], 554, res)
        self.assertIn("other policy says no", res.refused[BLOCKED][1])
        self.assertGreater(self.other.requests, n0)
        code, msg = self.inbound("bob@" + HOSTED)
        self.assertEqual(code, 250, msg)
        self.wait_delivered(lab.remote_server, ["bob@" + HOSTED])
        res = lab.send(RP, ["carol@" + ROUTED])
        self.assertTrue(res.queue_id, res)
        self.wait_delivered(self.routed, ["carol@" + ROUTED])
        # the bounce domain reaches bounced
        mark = lab.log_mark()
        code, msg = self.inbound(RP)
        self.assertEqual(code, 250, msg)
        lab.wait_log(r"to=<%s>, relay=[^,]*%s.*status=sent" % (
            re.escape(RP), re.escape(self.bounced.paths["lmtp"])), after=mark)

    def test_2_inbound_outbound(self):
        lab = self.lab
        self.bounced.admin("suppress", ALICE)
        self.bounced.admin("suppress", DEAD)
        code, msg = self.inbound(ALICE)
        self.assertEqual(code, 250, "inbound to a suppressed hosted address: %s" % msg)
        self.wait_delivered(lab.remote_server, [ALICE])
        res = lab.send(RP, [DEAD, "ok@" + R])
        self.assertEqual(res.refused.get(DEAD, (0,))[0], 550, res)
        self.assertIn("suppressed: manual", res.refused[DEAD][1])
        before = lab.remote_server.rcpt_counts.get(DEAD, 0)
        mark = lab.log_mark()
        self.sendmail(DEAD)
        lab.wait_log(r"to=<%s>,.*status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 "
                     r"5\.7\.1 <%s>: Recipient address rejected: suppressed: manual"
                     % (re.escape(DEAD), re.escape(DEAD)), after=mark)
        lab.wait_log(r"sender non-delivery notification", after=mark)
        self.assertEqual(lab.remote_server.rcpt_counts.get(DEAD, 0), before)
        self.bounced.admin("unsuppress", "--note", "test done", DEAD)

    def postfix_check(self, etc, *args):
        ctl = os.path.join(os.path.dirname(os.path.dirname(self.bounced.binary)), "tools",
                           "bouncectl")
        ctl = os.environ.get("BOUNCECTL", ctl)
        r = subprocess.run([ctl, "postfix-check", "-c", etc, "--socket-activation", "no"]
                           + list(args), capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_2b_postfix_check(self):
        """postfix-check passes the guide's configuration and finds each
        harmful one (on copies of the lab's config directory)."""
        import shutil
        code, out = self.postfix_check(self.lab.etc)
        self.assertEqual(code, 0, out)
        self.assertNotRegex(out, r"(?m)^(missing|harmful)")
        pc = L._sbin("postconf")
        sm = "proxy:socketmap:unix:%s:suppressed" % self.bounced.paths["socketmap"]
        cases = [
            ("socketmap in recipient restrictions",
             ["-e", "smtpd_recipient_restrictions = check_recipient_access %s" % sm],
             r"harmful +smtpd_recipient_restrictions: bounced's socketmap"),
            ("socketmap in transport_maps",
             ["-e", "transport_maps = %s_transport, hash:%s/transport" % (sm, self.lab.etc)],
             r"harmful +transport_maps: bounced's socketmap .* 451 to all"),
            ("policy asked about inbound mail",
             ["-e", "smtpd_recipient_restrictions = $bounced_policy"],
             r"harmful +smtpd_recipient_restrictions: bounced's policy service is asked about "
             r"inbound"),
            ("policy before permit_auth_destination",
             ["-e", "smtpd_relay_restrictions = $bounced_policy, permit_mynetworks, "
              "defer_unauth_destination"],
             r"harmful +smtpd_relay_restrictions: bounced's policy service is not after"),
            ("fail-closed without socket activation",
             ["-e", "bounced_policy = check_policy_service unix:private/bounced-policy"],
             r"harmful +the policy service is fail-closed without socket activation"),
            ("chrooted smtpd, absolute policy socket",
             ["-e", "bounced_policy = check_policy_service { unix:/run/bounced/policy.sock, "
              "default_action=DUNNO }"],
             r"harmful +the policy service's socket is an absolute path"),
            ("bounce domain not in relay_domains",
             ["-e", "relay_domains = %s" % HOSTED],
             r"harmful +bounce domain bounce\.example\.com is not in relay_domains.*\n.*fix: "
             r"postconf -e 'relay_domains = hosted\.test, bounce\.example\.com'"),
            ("chrooted bounced service",
             ["-F", "bounced/unix/chroot=y"],
             r"harmful +master\.cf: the \"bounced\" service is chrooted"),
        ]
        for name, args, want in cases:
            with self.subTest(name):
                etc = os.path.join(self.lab.dir, "etc-check")
                shutil.rmtree(etc, ignore_errors=True)
                shutil.copytree(self.lab.etc, etc)
                subprocess.run([pc, "-c", etc] + args, check=True, capture_output=True)
                code, out = self.postfix_check(etc)
                self.assertEqual(code, 5, "%s: %s" % (name, out))
                self.assertRegex(out, want)
        # fail-closed is fine when systemd holds the socket
        etc = os.path.join(self.lab.dir, "etc-check")
        shutil.rmtree(etc, ignore_errors=True)
        shutil.copytree(self.lab.etc, etc)
        subprocess.run([pc, "-c", etc, "-e",
                        "bounced_policy = check_policy_service unix:private/bounced-policy"],
                       check=True)
        code, out = self.postfix_check(etc, "--socket-activation", "yes")
        self.assertEqual(code, 0, out)
        # before the guide (Debian's main.cf and the admin's settings): missing, not harmful
        code, out = self.postfix_check(os.path.join(self.lab.dir, "etc-before"))
        self.assertEqual(code, 1, out)
        self.assertRegex(out, r"(?m)^missing +smtpd_relay_restrictions: no bounced policy")
        self.assertNotRegex(out, r"(?m)^harmful")
        # no Postfix configuration there: postconf fails, exit 3
        code, out = self.postfix_check(os.path.join(self.lab.dir, "etc-none"))
        self.assertEqual(code, 3, out)

    def stream(self, tag, fail_closed):
        """COUNT messages, every other one by sendmail, bounced stopped for
        STOP seconds after the first quarter.  Returns the figures."""
        lab = self.lab
        rs = lab.remote_server
        pace = 2.0 * STOP / COUNT       # the stream lasts about 2 * STOP
        rcpts = ["%s-%d@%s" % (tag, i, R) for i in range(COUNT)]
        smtp_retry, codes = [], {}
        down_at = up_at = None
        t0 = time.monotonic()
        for i, rcpt in enumerate(rcpts):
            if i == COUNT // 4:
                self.assertEqual(self.bounced.stop(), 0)
                down_at = time.monotonic()
            if down_at and not up_at and time.monotonic() - down_at >= STOP:
                queued_at_restart = self.deferred(tag)
                self.bounced.start()
                up_at = time.monotonic()
            if i % 2:
                self.sendmail(rcpt)
            else:
                res = lab.send(RP, [rcpt])
                if res.refused:
                    code = res.refused[rcpt][0]
                    codes[code] = codes.get(code, 0) + 1
                    smtp_retry.append(rcpt)
            delay = t0 + (i + 1) * pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if not up_at:
            time.sleep(max(0.0, STOP - (time.monotonic() - down_at)))
            queued_at_restart = self.deferred(tag)
            self.bounced.start()
            up_at = time.monotonic()
        # the SMTP clients that were told 4xx try again, as clients do
        for rcpt in smtp_retry:
            res = lab.send(RP, [rcpt])
            self.assertFalse(res.refused, "retry after the restart: %r" % res)
        lab.flush()
        self.wait_delivered(rs, rcpts, timeout=120 + COUNT / 5)
        took = time.monotonic() - t0
        lab.wait_queue_empty(timeout=60)
        fig = {"messages": COUNT, "stopped_s": round(up_at - down_at, 1),
               "smtp_refused": dict(codes), "sendmail_queued_at_restart": queued_at_restart,
               "all_delivered_after_s": round(took, 1)}
        print("\n%s: %s" % (tag, fig), file=sys.stderr)
        return fig, codes

    def test_5_socket_activation_restart(self):
        """Fail-closed, with the sockets held across a restart (systemd's
        socket units): SMTP submissions during the restart wait for bounced
        instead of getting 451; a suppressed recipient is still refused."""
        lab = self.lab
        self.script("fail-closed")
        self.assertEqual(self.bounced.stop(), 0)
        act = Activated(self.bounced)
        try:
            act.start()
            self.assertRegex(self.bounced.log_tail(40), r"socket=policy_service path=\S+ "
                             r"from=systemd")
            self.bounced.admin("suppress", DEAD)
            res = lab.send(RP, [DEAD])
            self.assertEqual(res.refused.get(DEAD, (0,))[0], 550, res)
            self.assertEqual(act.stop(), 0)
            results = []

            def submit(i):
                results.append(lab.send(RP, ["act-%d@%s" % (i, R)]))
            threads = [threading.Thread(target=submit, args=(i,)) for i in range(5)]
            for t in threads:
                t.start()
            time.sleep(3)                       # bounced down, the sockets held
            # none answered yet: their RCPT waits in the policy socket's queue
            self.assertEqual(results, [], "answered while bounced was down")
            act.start()
            for t in threads:
                t.join(60)
            self.assertEqual(len(results), 5)
            for r in results:
                self.assertEqual(r.refused, {}, "refused during a restart: %r%s"
                                 % (r, self.diag()))
            self.wait_delivered(lab.remote_server, ["act-%d@%s" % (i, R) for i in range(5)])
        finally:
            act.close()
            self.bounced.start()
            self.script("refuse")

    def deferred(self, tag):
        """Messages of the stream waiting in Postfix's queue (sendmail
        submissions the check deferred)."""
        n = 0
        for m in self.lab.queue():
            if m.get("queue_name") == "deferred" and any(r["address"].startswith(tag + "-") for r in m.get("recipients", [])):
                n += 1
        return n

    def test_3_stream_fail_open(self):
        self.script("refuse")       # default_action=DUNNO
        fig, codes = self.stream("open", False)
        self.assertEqual(codes, {}, "fail-open refused mail: %s" % fig)
        self.assertEqual(fig["sendmail_queued_at_restart"], 0, fig)

    def test_4_stream_fail_closed(self):
        self.script("fail-closed")
        try:
            fig, codes = self.stream("closed", True)
            self.assertTrue(codes, "fail-closed: no SMTP client was told to retry: %s" % fig)
            self.assertEqual(set(codes), {451}, "fail-closed answered %s (never 5xx)" % codes)
            self.assertGreater(fig["sendmail_queued_at_restart"], 0, fig)
        finally:
            self.script("refuse")


class Activated:
    """bounced started the way systemd's socket units start it: this process
    holds the listening sockets (like systemd), passes them as LISTEN_FDS,
    and keeps them open while bounced is stopped, so clients connecting in
    between wait in the kernel's queue instead of being refused."""

    def __init__(self, bounced):
        self.b = bounced
        self.socks = []
        for key in ("lmtp", "query", "socketmap", "admin", "policy"):
            path = bounced.paths[key]
            if os.path.exists(path):
                os.unlink(path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            os.chmod(path, 0o600 if key == "admin" else 0o666)
            s.listen(256)
            self.socks.append(s)
        self.proc = None

    def start(self):
        fds = [s.fileno() for s in self.socks]

        def child():
            # the fds systemd passes are 3, 4, ...: move them there
            tmp = [os.dup(fd) for fd in fds]
            for i, fd in enumerate(tmp):
                os.dup2(fd, 3 + i)
                os.set_inheritable(3 + i, True)
        log = open(self.b.log_path, "ab")
        self.proc = subprocess.Popen(
            ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=%d exec "$0" --config "$1"' % len(fds),
             self.b.binary, self.b.config], preexec_fn=child, close_fds=False,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        L.wait_until(lambda: self.b.check("probe@" + R) == "OK", 20, what="activated bounced")

    def stop(self):
        self.proc.send_signal(15)      # SIGTERM, as systemd stops it
        return self.proc.wait(20)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        for s in self.socks:
            s.close()


def main():
    global COUNT, STOP
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="1,000 messages, 60 s (issue 14)")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--stop", type=float, default=None)
    args, rest = ap.parse_known_args()
    COUNT, STOP = (1000, 60.0) if args.full else (COUNT, STOP)
    COUNT = args.count or COUNT
    STOP = args.stop or STOP
    sys.argv[1:] = rest
    return L.unittest_main("test_policy", need_bounced=True)


if __name__ == "__main__":
    sys.exit(main())
