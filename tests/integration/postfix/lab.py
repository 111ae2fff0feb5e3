# SPDX-License-Identifier: MIT
"""lab.py - a private, real Postfix for bounced's end-to-end tests (stdlib only).

    with Lab() as lab:                       # temp dir, main.cf, master.cf, start
        lab.remote({"x@remote.test": "550 5.1.1 <x@remote.test>: User unknown"})
        lmtp = lab.fake_lmtp()               # or Bounced(lab).start()
        mark = lab.log_mark()
        lab.send("bounces@bounce.test", ["x@remote.test"])
        lab.wait_delivered("bounces@bounce.test", after=mark)

What it sets up (see shared POSTFIX-TESTING.md for the why of each line):
- LAB/etc      config_directory: main.cf, master.cf, transport (texthash)
- LAB/spool    queue_directory (subdirectories made by `postfix start`)
- LAB/data     data_directory, owned by postfix
- LAB/run      sockets (lmtp.sock and bounced's), mode 755
- LAB/maillog  Postfix's log (maillog_file; there is no syslog)
- smtpd on 127.0.0.1:<free port>; the remote test domain "remote.test" is
  routed to a test SMTP server on 127.0.0.1:<another port>, "bounce.test"
  (the Return-Path domain) to LMTP on the bounced socket.

Every process started here is stopped by stop() / the context manager, also
when a test fails; stop() checks /proc that no process of this lab is left.
"""

import json
import os
import re
import shutil
import signal
import smtplib
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

REMOTE_DOMAIN = "remote.test"
BOUNCE_DOMAIN = "bounce.test"
RETURN_PATH = "bounces@" + BOUNCE_DOMAIN
HOSTNAME = "mx.lab.test"

# Skip code of meson (and automake) for "cannot run here".
SKIP = 77


def which_postfix():
    """Path of the postfix command or None (it lives in /usr/sbin)."""
    return shutil.which("postfix") or shutil.which("postfix", path="/usr/sbin:/usr/bin")


def skip_reason():
    """Why the lab cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the Postfix lab must run as root (postfix start, smtp-sink -u)"
    if not which_postfix():
        return "postfix is not installed (apt-get install postfix)"
    try:
        import pwd
        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no user postfix"
    return None


def _sbin(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin") or name


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value; returns it or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---- /proc: processes (no ps in minimal images; pitfall 9) -------------

def proc_state(pid):
    """The state letter of a process ('R', 'S', 'Z', ...) or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def alive(pid):
    """True for a live process; a zombie is not alive (pitfall 9)."""
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def proc_children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def procs_with_env(key, value):
    """Live pids whose environment has key=value (finds every Postfix
    process of one lab: postfix -c DIR exports MAIL_CONFIG=DIR and master
    passes it on to its children)."""
    want = ("%s=%s" % (key, value)).encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env and alive(int(d)):
            out.append(int(d))
    return out


# ---- the remote SMTP server that rejects chosen recipients --------------

class _RemoteHandler(socketserver.StreamRequestHandler):
    timeout = 60

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        self.reply("220 %s ESMTP lab remote" % REMOTE_DOMAIN)
        sender, rcpts = None, []
        while True:
            try:
                raw = self.rfile.readline(8192)
            except OSError:
                return
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    self.reply("250 %s" % REMOTE_DOMAIN)
                else:
                    self.reply("250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                               "250-ENHANCEDSTATUSCODES\r\n250 SIZE 20480000" % REMOTE_DOMAIN)
            elif verb == "MAIL":
                m = re.search(r"<([^>]*)>", line)
                sender, rcpts = (m.group(1) if m else ""), []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.search(r"<([^>]*)>", line)
                addr = m.group(1) if m else ""
                ans = srv.remote.reply_for(addr)
                srv.remote._count(addr, ans)
                if ans.startswith("2"):
                    rcpts.append(addr)
                self.reply(ans)
            elif verb == "DATA":
                if not rcpts:
                    self.reply("554 5.5.1 Error: no valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                while True:
                    raw = self.rfile.readline(1 << 20)
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                srv.remote._accepted(sender, rcpts)
                self.reply("250 2.0.0 Ok: queued at remote")
                rcpts = []
            elif verb == "RSET":
                sender, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class RemoteSMTP:
    """The remote MX of remote.test: a small SMTP responder with a reply per
    recipient.  rules maps an address (case-insensitive) to its RCPT reply;
    patterns is a list of (regex, reply) tried next; default answers the
    rest.  Replies are full lines, e.g. "550 5.1.1 <x@remote.test>: User
    unknown".  Runs in a thread of the test process."""

    def __init__(self, port, rules=None, patterns=(), default="250 2.1.5 Ok"):
        self.port = port
        self.rules = {k.lower(): v for k, v in (rules or {}).items()}
        self.patterns = [(re.compile(p, re.I), r) for p, r in patterns]
        self.default = default
        self.lock = threading.Lock()
        self.rcpt_counts = {}      # address -> number of RCPTs seen
        self.delivered = []        # (sender, [rcpts]) accepted with 250 at DATA
        self.server = _ThreadingTCP(("127.0.0.1", port), _RemoteHandler)
        self.server.remote = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply_for(self, addr):
        a = addr.lower()
        if a in self.rules:
            return self.rules[a]
        for rx, reply in self.patterns:
            if rx.search(a):
                return reply
        return self.default

    def set_rule(self, addr, reply):
        with self.lock:
            self.rules[addr.lower()] = reply

    def _count(self, addr, ans):
        with self.lock:
            self.rcpt_counts[addr.lower()] = self.rcpt_counts.get(addr.lower(), 0) + 1

    def _accepted(self, sender, rcpts):
        with self.lock:
            self.delivered.append((sender, list(rcpts)))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Proc:
    """A helper process started by the lab (smtp-sink, fake LMTP); stopped
    by the lab at the end whatever happens."""

    def __init__(self, argv, log_path, name):
        self.argv = argv
        self.log_path = log_path
        self.name = name
        self.p = None
        self.start()

    def start(self):
        log = open(self.log_path, "ab")
        self.p = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self):
        return self.p.pid if self.p else None

    def running(self):
        return self.p is not None and self.p.poll() is None

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after timeout.  Returns the exit status."""
        if not self.running():
            return self.p.returncode if self.p else None
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self):
        if self.running():
            self.p.kill()
        return self.p.wait(10) if self.p else None

    def restart(self):
        self.stop()
        return self.start()


class FakeLMTP(Proc):
    """fake_lmtp.py on the lab's LMTP socket; messages() reads what it stored."""

    def __init__(self, lab, store=None, data_reply=None, sock=None, extra_args=()):
        self.lab = lab
        self.extra_args = list(extra_args)
        self.sock = sock or lab.lmtp_socket
        self.store = store or os.path.join(lab.dir, "fake-lmtp")
        self.data_reply = data_reply
        os.makedirs(self.store, exist_ok=True)
        super().__init__(self._argv(), os.path.join(lab.dir, "fake-lmtp.log"), "fake-lmtp")
        self.wait_ready()

    def _argv(self):
        argv = [sys.executable, os.path.join(HERE, "fake_lmtp.py"),
                "--socket", self.sock, "--store", self.store]
        if self.data_reply:
            argv += ["--data-reply", self.data_reply]
        return argv + self.extra_args

    def start(self, data_reply=None):
        if data_reply is not None:
            self.data_reply = data_reply or None
        self.argv = self._argv()
        super().start()
        return self

    def restart(self, data_reply=None):
        self.stop()
        self.start(data_reply)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        def ok():
            if not self.running():
                raise RuntimeError("fake LMTP exited: see %s" % self.log_path)
            return connectable(self.sock)
        wait_until(ok, timeout, what="fake LMTP socket " + self.sock)

    def message_for_qid(self, qid):
        """The stored message whose Postfix Received header names queue id
        qid ("id QID;"), or None."""
        rx = re.compile(rb"^Received: by [^\n]*\n\s+id " + re.escape(qid.encode()) + rb";", re.M)
        for m in self.messages():
            if rx.search(m["data"].replace(b"\r\n", b"\n")):
                return m
        return None

    def messages(self):
        """Stored messages, oldest first: dicts with the envelope
        (mail_from, rcpt_to, ...), 'name' and 'data' (bytes as received)."""
        out = []
        for fn in sorted(os.listdir(self.store)):
            if not fn.endswith(".json"):
                continue
            base = os.path.join(self.store, fn[:-5])
            with open(base + ".json") as f:
                env = json.load(f)
            with open(base + ".eml", "rb") as f:
                env["data"] = f.read()
            env["name"] = fn[:-5]
            out.append(env)
        return out


def connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class SendResult:
    def __init__(self):
        self.queue_id = None     # Postfix queue id of the accepted message
        self.refused = {}        # rcpt -> (code, text) refused at RCPT
        self.reply = None        # (code, text) of DATA

    def __repr__(self):
        return "SendResult(queue_id=%r, refused=%r, reply=%r)" % (
            self.queue_id, self.refused, self.reply)


# ---- the lab -------------------------------------------------------------

# main.cf of the lab; POSTFIX-TESTING.md explains each line.  $LAB and the
# ports are filled in by Lab.  main.cf comments must be on their own lines.
MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {lab}/spool
data_directory = {lab}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {hostname}
mydomain = lab.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_authorized_verp_clients = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
transport_maps = texthash:{lab}/etc/transport
default_transport = error:5.7.1 tests deliver nothing outside loopback
relay_transport = $default_transport
maillog_file = {lab}/maillog
maillog_file_prefixes = {lab}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
delay_warning_time = 0h
biff = no
"""

# The usual services, chroot column "n" everywhere, smtpd on the lab port,
# postlog for maillog_file.
MASTER_CF = """\
127.0.0.1:{smtpd_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# One maillog line: "Nov 22 21:56:43 mx postfix/lmtp[123]: 4ABC: to=<..>, ..."
LOG_RE = re.compile(r"^\S+\s+\S+\s+\S+\s+\S+\s+postfix/(?P<prog>[\w/-]+)\[(?P<pid>\d+)\]:\s+"
                    r"(?:(?P<qid>[0-9A-F]{6,}):\s+)?"
                    r"(?P<msg>.*)$")


def parse_log_line(line):
    """Splits a maillog line into prog, pid, qid (or None) and msg; None if
    it is not a Postfix line."""
    m = LOG_RE.match(line)
    return m.groupdict() if m else None


class LogFollower:
    """Reads a maillog incrementally (long runs: never re-reads the file).
    poll() returns the complete lines appended since the last call."""

    def __init__(self, path, after=0):
        self.path = path
        self.pos = after
        self.partial = b""

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return []
        self.pos += len(data)
        data = self.partial + data
        end = data.rfind(b"\n")
        if end < 0:
            self.partial = data
            return []
        self.partial = data[end + 1:]
        return data[:end].decode("utf-8", "replace").split("\n")


class Lab:
    """A private Postfix under a temp dir.  Keyword params are extra main.cf
    settings (e.g. delay_warning_time="1s").  keep=True (or env
    LAB_KEEP=1) leaves the dir for a post-mortem."""

    def __init__(self, lmtp_socket=None, params=None, root=None, keep=None, start=True):
        if keep is None:
            keep = os.environ.get("LAB_KEEP") == "1"
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="bounced-lab-", dir=root)
        self._open_up(self.dir)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.run = os.path.join(self.dir, "run")
        self.maillog = os.path.join(self.dir, "maillog")
        self.lmtp_socket = lmtp_socket or os.path.join(self.run, "lmtp.sock")
        if len(self.lmtp_socket.encode()) > 100:
            raise ValueError("socket path too long for AF_UNIX: %s (set TMPDIR shorter)"
                             % self.lmtp_socket)
        self.smtpd_port = free_port()
        self.remote_port = free_port()
        self.params = dict(params or {})
        self.remote_server = None
        self.helpers = []          # Proc objects to stop at the end
        self.started = False
        self.master_pid = None
        self.timings = {}
        for d, mode in ((self.etc, 0o755), (self.spool, 0o755), (self.run, 0o755)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)
        os.makedirs(self.data, exist_ok=True)
        # Pitfall 2: data_directory must belong to postfix.
        shutil.chown(self.data, "postfix", "postfix")
        os.chmod(self.data, 0o700)
        self._write_config()
        if start:
            try:
                self.start()
            except BaseException:
                self.stop()
                raise

    # -- setup ------------------------------------------------------------

    @staticmethod
    def _open_up(path):
        """Pitfall 1: mkdtemp makes 0700 dirs and postfix cannot reach its
        lock file.  Make the lab dir 755 and give every parent o+rx when it
        lacks it (never takes a permission away)."""
        os.chmod(path, 0o755)
        p = os.path.dirname(path)
        while p and p != "/":
            st = os.stat(p)
            if st.st_mode & 0o005 != 0o005:
                os.chmod(p, st.st_mode | 0o055)
            p = os.path.dirname(p)

    def _write_config(self):
        main = MAIN_CF.format(lab=self.dir, hostname=HOSTNAME)
        for k, v in self.params.items():
            main += "%s = %s\n" % (k, v)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(smtpd_port=self.smtpd_port))
        self.write_transport()

    def write_transport(self, extra=None):
        """Writes the transport map (texthash: read at process start, so a
        change needs reload())."""
        lines = ["%s smtp:[127.0.0.1]:%d" % (REMOTE_DOMAIN, self.remote_port),
                 "%s lmtp:unix:%s" % (BOUNCE_DOMAIN, self.lmtp_socket)]
        for dom, nexthop in (extra or {}).items():
            lines.append("%s %s" % (dom, nexthop))
        with open(os.path.join(self.etc, "transport"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def postfix(self, *args, check=True, timeout=60):
        """Runs `postfix -c ETC args...`; returns the CompletedProcess."""
        r = subprocess.run([which_postfix(), "-c", self.etc] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("postfix %s failed (%d): %s\n-- maillog tail --\n%s"
                               % (" ".join(args), r.returncode, r.stdout, self.log_tail()))
        return r

    def start(self):
        t0 = time.monotonic()
        self.postfix("start")
        self.started = True
        self.master_pid = self._read_master_pid()
        wait_until(self._smtpd_ready, 20, what="Postfix smtpd on port %d" % self.smtpd_port)
        self.timings["start"] = time.monotonic() - t0
        return self

    def _read_master_pid(self):
        path = os.path.join(self.spool, "pid", "master.pid")
        def rd():
            try:
                with open(path) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return None
        return wait_until(rd, 10, what=path)

    def _smtpd_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.smtpd_port), 1) as s:
                s.settimeout(5)
                return s.recv(512).startswith(b"220")
        except OSError:
            return False

    def processes(self):
        """Live pids of this lab's Postfix (master and children)."""
        return procs_with_env("MAIL_CONFIG", self.etc)

    def stop(self):
        """Stops everything this lab started; idempotent; never raises for a
        process that is already gone.  Returns the pids still alive (none
        expected)."""
        for h in reversed(self.helpers):
            try:
                h.stop()
            except Exception:
                pass
        self.helpers = []
        if self.remote_server:
            self.remote_server.stop()
            self.remote_server = None
        left = []
        if self.started:
            t0 = time.monotonic()
            try:
                self.postfix("stop", check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                wait_until(lambda: not self.processes(), 10, what="Postfix processes to exit")
            except TimeoutError:
                for pid in self.processes():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.2)
            left = self.processes()
            self.started = False
            self.timings["stop"] = time.monotonic() - t0
        if not self.keep and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        return left

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- configuration ------------------------------------------------------

    def postconf(self, name):
        r = subprocess.run([_sbin("postconf"), "-c", self.etc, "-h", name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
        return r.stdout.strip()

    def set(self, **params):
        """postconf -e each param=value, then reload() and wait for it."""
        argv = [_sbin("postconf"), "-c", self.etc, "-e"]
        argv += ["%s=%s" % (k, v) for k, v in params.items()]
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
        self.params.update(params)
        self.reload()

    def reload(self, timeout=15):
        """`postfix reload` is asynchronous (pitfall 7): master logs the
        reload, then tells its children to exit once idle and starts new
        ones on demand.  Wait for the log line and for every pre-reload
        child to be gone, so the next step runs with the new settings."""
        old = set(proc_children(self.master_pid))
        mark = self.log_mark()
        # What `postfix reload` does after its 2 s of `postfix check`.
        os.kill(self.master_pid, signal.SIGHUP)
        self.wait_log(r"postfix/master\[\d+\]: reload", after=mark, timeout=timeout)
        wait_until(lambda: not [p for p in old if alive(p)], timeout,
                   what="pre-reload Postfix processes to exit")

    # -- helpers: remote SMTP, smtp-sink, fake LMTP -------------------------

    def remote(self, rules=None, patterns=(), default="250 2.1.5 Ok"):
        """Starts (or replaces) the python remote MX of remote.test."""
        if self.remote_server:
            self.remote_server.stop()
        self.remote_server = RemoteSMTP(self.remote_port, rules, patterns, default)
        wait_until(lambda: self._tcp_ready(self.remote_port), 5, what="remote SMTP")
        return self.remote_server

    def _tcp_ready(self, port):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False

    def smtp_sink(self, *args, listen=None, backlog=100):
        """Starts Postfix's smtp-sink as the remote MX (uniform replies), e.g.
        smtp_sink("-f", "RCPT", "-B", "550 5.1.1 ...").  Root must pass -u
        (done here).  listen defaults to the remote port."""
        if self.remote_server:
            self.remote_server.stop()
            self.remote_server = None
        target = listen or "127.0.0.1:%d" % self.remote_port
        argv = [_sbin("smtp-sink"), "-u", "postfix", "-4", "-h", REMOTE_DOMAIN] + list(args) \
            + [target, str(backlog)]
        h = Proc(argv, os.path.join(self.dir, "smtp-sink.log"), "smtp-sink")
        self.helpers.append(h)
        if target.startswith("unix:"):
            wait_until(lambda: connectable(target[5:]), 5, what="smtp-sink socket")
            os.chmod(target[5:], 0o666)
        else:
            wait_until(lambda: self._tcp_ready(self.remote_port), 5, what="smtp-sink")
        return h

    def fake_lmtp(self, data_reply=None, store=None, extra_args=()):
        """Starts fake_lmtp.py on the LMTP socket (bounced's stand-in)."""
        h = FakeLMTP(self, store=store, data_reply=data_reply, extra_args=extra_args)
        self.helpers.append(h)
        return h

    # -- sending --------------------------------------------------------

    def send(self, mail_from, rcpts, xverp=False, headers=None, body=None, subject=None,
             mail_options=()):
        """Submits one message through the lab's smtpd with smtplib.  Never
        raises for refused recipients: see SendResult.refused.  XVERP uses
        MAIL FROM:<..> XVERP (allowed by smtpd_authorized_verp_clients)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        res = SendResult()
        hdrs = {
            "From": mail_from or "MAILER-DAEMON@" + REMOTE_DOMAIN,
            "To": ", ".join(rcpts[:3]) + (", ..." if len(rcpts) > 3 else ""),
            "Subject": subject or "lab test message",
            "Date": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "Message-Id": "<%d.%d@app.lab.test>" % (time.time_ns(), os.getpid()),
        }
        hdrs.update(headers or {})
        if body is None:
            body = "This is a test message of the bounced Postfix lab.\n"
        text = "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n" \
            + body.replace("\r\n", "\n").replace("\n", "\r\n")
        opts = list(mail_options) + (["XVERP"] if xverp else [])
        with smtplib.SMTP("127.0.0.1", self.smtpd_port, local_hostname="app.lab.test",
                          timeout=60) as s:
            s.ehlo()
            code, msg = s.mail(mail_from, opts)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, msg, mail_from)
            ok = []
            for r in rcpts:
                code, msg = s.rcpt(r)
                if code in (250, 251):
                    ok.append(r)
                else:
                    res.refused[r] = (code, msg.decode("utf-8", "replace"))
            if not ok:
                s.rset()
                return res
            code, msg = s.data(text.encode())
            msg = msg.decode("utf-8", "replace")
            res.reply = (code, msg)
            m = re.search(r"queued as (\S+)", msg)
            if m:
                res.queue_id = m.group(1)
        return res

    # -- the log ----------------------------------------------------------

    def log_mark(self):
        """A position in the maillog; wait_log(after=mark) looks after it."""
        try:
            return os.path.getsize(self.maillog)
        except OSError:
            return 0

    def log_text(self, after=0):
        try:
            with open(self.maillog, "rb") as f:
                f.seek(after)
                data = f.read()
        except OSError:
            return ""
        # Only whole lines (postlogd may be mid-write).
        end = data.rfind(b"\n")
        return data[:end + 1].decode("utf-8", "replace") if end >= 0 else ""

    def log_lines(self, after=0, pattern=None):
        rx = re.compile(pattern) if pattern else None
        return [l for l in self.log_text(after).splitlines() if not rx or rx.search(l)]

    def log_tail(self, n=40):
        return "\n".join(self.log_lines()[-n:])

    def wait_log(self, pattern, after=0, timeout=30, count=1):
        """Waits until `count` lines after `after` match pattern; returns them."""
        rx = re.compile(pattern)

        def found():
            got = [l for l in self.log_text(after).splitlines() if rx.search(l)]
            return got if len(got) >= count else None
        try:
            return wait_until(found, timeout, interval=0.05, what="maillog /%s/" % pattern)
        except TimeoutError as e:
            raise TimeoutError("%s\n-- maillog tail --\n%s" % (e, self.log_tail())) from None

    def deliveries(self, after=0, transport="lmtp", status=None):
        """Delivery lines of one transport: dicts qid, to, status, relay,
        text, time (seconds since the epoch, local clock of the log line)."""
        out = []
        for line in self.log_lines(after):
            d = parse_log_line(line)
            if not d or d["prog"] != transport or not d["qid"]:
                continue
            m = re.match(r"to=<([^>]*)>,.*?status=(\w+) \((.*)\)$", d["msg"])
            if not m:
                continue
            if status and m.group(2) != status:
                continue
            out.append({"qid": d["qid"], "to": m.group(1), "status": m.group(2),
                        "text": m.group(3), "line": line})
        return out

    def wait_delivered(self, rcpt, after=0, timeout=30, transport="lmtp"):
        """Waits for `to=<rcpt>, ... status=sent` of transport; returns
        (line, monotonic time it was seen)."""
        pat = r"postfix/%s\[\d+\]: \w+: to=<%s>,.*status=sent" % (transport, re.escape(rcpt))
        lines = self.wait_log(pat, after=after, timeout=timeout)
        return lines[0], time.monotonic()

    def dsn_ids(self, after=0):
        """Queue id of each DSN Postfix generated: (original qid, dsn qid)
        from "sender non-delivery notification: QID" (bounce) and "sender
        delay notification: QID" (delay warning) lines."""
        out = []
        for line in self.log_lines(after):
            d = parse_log_line(line)
            if not d:
                continue
            m = re.match(r"sender (non-delivery|delay) notification: (\S+)", d["msg"])
            if m:
                out.append((d["qid"], m.group(2), m.group(1)))
        return out

    def wait_dsn(self, orig_qid, after=0, timeout=30, kind="non-delivery"):
        """Waits until Postfix generated the DSN of message orig_qid (kind
        "non-delivery" or "delay"); returns the DSN's queue id."""
        pat = r"postfix/bounce\[\d+\]: %s: sender %s notification: ([0-9A-F]+)" % (
            re.escape(orig_qid), kind)
        line = self.wait_log(pat, after=after, timeout=timeout)[0]
        return re.search(pat, line).group(1)

    def wait_dsns(self, orig_qid, n, after=0, timeout=30, kind="non-delivery"):
        """Like wait_dsn for n DSNs of one message (XVERP: one per recipient)."""
        pat = r"postfix/bounce\[\d+\]: %s: sender %s notification: ([0-9A-F]+)" % (
            re.escape(orig_qid), kind)
        lines = self.wait_log(pat, after=after, timeout=timeout, count=n)
        return [re.search(pat, l).group(1) for l in lines]

    def wait_sent(self, qid, after=0, timeout=30, transport="lmtp"):
        """Waits for the status=sent line of queue id qid; returns
        (delivery dict, monotonic time it was seen)."""
        pat = r"postfix/%s\[\d+\]: %s: to=<.*status=sent" % (transport, re.escape(qid))
        self.wait_log(pat, after=after, timeout=timeout)
        t = time.monotonic()
        d = [d for d in self.deliveries(after, transport, "sent") if d["qid"] == qid]
        return d[0], t

    # -- the queue ----------------------------------------------------------

    def queue(self):
        """The queue as `postqueue -j` lists it: one dict per message."""
        r = subprocess.run([_sbin("postqueue"), "-c", self.etc, "-j"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("postqueue -j failed: %s" % r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def wait_queue_empty(self, timeout=30, flush_every=5):
        """Waits until the queue is empty, with `postqueue -f` every
        flush_every seconds: a message that `postqueue -f` moved to the
        incoming queue while its retry time was still ahead waits there for
        the next trigger of the queue manager (seen in CI: a message stuck
        in `incoming` 60 s with its deferral reasons), and a test waiting
        for the queue to drain wants every retry now."""
        last = [time.monotonic()]

        def empty():
            if not self.queue():
                return True
            if flush_every and time.monotonic() - last[0] >= flush_every:
                self.flush()
                last[0] = time.monotonic()
            return False
        try:
            wait_until(empty, timeout, interval=0.2, what="an empty queue")
        except TimeoutError as e:
            raise TimeoutError("%s: %s" % (e, self.queue())) from None

    def flush(self):
        """postqueue -f: retry every deferred message now."""
        subprocess.run([_sbin("postqueue"), "-c", self.etc, "-f"], check=True,
                       stdin=subprocess.DEVNULL)

    def delete_queue(self):
        """postsuper -d ALL: empties the queue (between scenarios)."""
        subprocess.run([_sbin("postsuper"), "-c", self.etc, "-d", "ALL"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)


# ---- bounced ---------------------------------------------------------------

def bounced_config(paths, extra=""):
    """The ONE place with bounced's config text for the tests: adjust here
    when the daemon's keys change.  paths: lmtp, query, socketmap, admin,
    store, secret, policy."""
    return """\
# bounced config written by tests/integration/postfix/lab.py
lmtp:      {{ socket: "{lmtp}", mode: "0666" }}
query:     {{ socket: "{query}", mode: "0666" }}
socketmap: {{ socket: "{socketmap}", mode: "0666", name: suppressed }}
policy_service: {{ socket: "{policy}", mode: "0666" }}
admin:     {{ socket: "{admin}", allow_uids: [0] }}
store:     {{ path: "{store}", secret_file: "{secret}" }}
log:       {{ to: stderr, level: debug }}
""".format(**paths) + ("" if "trust:" in extra else
                       # the lab's Postfix does not sign unless a test
                       # configures it (test_trust.py): every bounce counts
                       "trust:     { mode: any }\n") + extra


def bounced_binary(arg=None):
    """The bounced executable: arg, else $BOUNCED; None when unset or not
    an executable file."""
    path = arg or os.environ.get("BOUNCED")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return os.path.abspath(path)
    return None



class LabTestCase(unittest.TestCase):
    """Tests that share one Lab, cls.lab, made by the subclass's setUpClass:
    stopped after the class's tests, an error when a Postfix process of it
    is left."""
    lab = None
    bounced = None      # the Bounced of the subclass, if any

    def diag(self):
        """The tails of the maillog and of bounced's log, for a failure message."""
        return "\n-- maillog --\n%s\n-- bounced log --\n%s" % (
            self.lab.log_tail(30), self.bounced.log_tail(30) if self.bounced else "")

    @classmethod
    def tearDownClass(cls):
        if cls.lab:
            left = cls.lab.stop()
            if left:
                raise RuntimeError("Postfix processes left after stop: %s" % left)

class BouncedLabTestCase(LabTestCase):
    """A LabTestCase with one bounced on the lab, cls.bounced: setUpClass
    starts the lab and calls the subclass's set_up_lab() (its remote's
    rules, its bounced, its settings), stopping the lab if that fails; each
    test starts with bounced running (restarted if a test stopped it)."""

    @classmethod
    def setUpClass(cls):
        cls.lab = Lab()
        try:
            cls.set_up_lab()
        except BaseException:
            cls.lab.stop()
            raise

    @classmethod
    def set_up_lab(cls):
        """Sets up cls.lab (started) and starts cls.bounced on it."""
        raise NotImplementedError

    def setUp(self):
        if not self.bounced.running():
            self.bounced.start()


def unittest_main(name, need_bounced=False):
    """main() of a unittest script of the lab: prints "NAME: SKIP: why" and
    returns SKIP when the lab cannot run here (or, with need_bounced, when
    there is no bounced executable); else runs the script's tests and
    returns 0 when they pass, 1 when not."""
    why = skip_reason()
    if not why and need_bounced and not bounced_binary():
        why = ("BOUNCED is not set or not an executable (%r): build bounced and run with "
               "BOUNCED=path/to/bounced" % os.environ.get("BOUNCED"))
    if why:
        print("%s: SKIP: %s" % (name, why))
        return SKIP
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    for test, why in prog.result.skipped:
        # a part left out of a passing script: tests/run-all lists it
        print("PARTIAL SKIP: %s: %s" % (test.id().split(".")[-1], why))
    return 0 if prog.result.wasSuccessful() else 1


class Bounced:
    """bounced on the lab's sockets: config in LAB/bounced/, sockets in
    LAB/run/, its stderr in LAB/bounced/bounced.log."""

    def __init__(self, lab, binary=None, extra_config=""):
        self.lab = lab
        self.binary = bounced_binary(binary)
        if not self.binary:
            raise RuntimeError("no bounced executable (set BOUNCED=path/to/bounced)")
        self.dir = os.path.join(lab.dir, "bounced")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.paths = {
            "lmtp": lab.lmtp_socket,
            "query": os.path.join(lab.run, "query.sock"),
            "socketmap": os.path.join(lab.run, "socketmap.sock"),
            "admin": os.path.join(lab.run, "admin.sock"),
            # in Postfix's queue directory, where a chrooted smtpd finds it
            # as unix:private/bounced-policy (doc/postfix.md section 5)
            "policy": os.path.join(lab.spool, "private", "bounced-policy"),
            "store": os.path.join(self.dir, "bounced.db"),
            "secret": os.path.join(self.dir, "secret"),
        }
        if not os.path.exists(self.paths["secret"]):
            fd = os.open(self.paths["secret"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, os.urandom(32).hex().encode() + b"\n")
            os.close(fd)
        self.config = os.path.join(self.dir, "bounced.yaml")
        with open(self.config, "w") as f:
            f.write(bounced_config(self.paths, extra_config))
        self.log_path = os.path.join(self.dir, "bounced.log")
        self.proc = None
        self.starts = 0

    @property
    def db(self):
        return self.paths["store"]

    def start(self, timeout=None):
        if self.proc and self.proc.poll() is None:
            return self
        # BOUNCED_WRAPPER="valgrind ..." (meson test --setup valgrind) runs it under a tool
        wrapper = os.environ.get("BOUNCED_WRAPPER", "").split()
        if timeout is None:
            timeout = 120 if wrapper else 20
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(wrapper + [self.binary, "--config", self.config], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        self.starts += 1
        if self not in self.lab.helpers:
            self.lab.helpers.append(self)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("bounced exited with %s at start:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            return all(connectable(self.paths[k]) for k in ("lmtp", "query", "socketmap"))
        wait_until(ready, timeout, what="bounced's sockets")
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=None):
        """SIGTERM (finish in-flight work, exit); SIGKILL after timeout.
        Returns the exit status."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        if timeout is None:
            timeout = 90 if os.environ.get("BOUNCED_WRAPPER") else 15
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self):
        """SIGKILL: the crash of the crash-safety run."""
        if self.running():
            self.proc.kill()
        return self.proc.wait(10) if self.proc else None

    def restart(self, kill=False):
        self.kill() if kill else self.stop()
        return self.start()

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def query(self, lines, timeout=5):
        """Sends request lines on one connection (pipelined) and returns one
        answer line per request."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.paths["query"])
            s.sendall("".join(l + "\n" for l in lines).encode())
            buf = b""
            while buf.count(b"\n") < len(lines):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        got = buf.decode("utf-8", "replace").split("\n")[:len(lines)]
        if len(got) < len(lines):
            raise RuntimeError("query socket closed after %d of %d answers" % (len(got), len(lines)))
        return [g.rstrip("\r") for g in got]

    def admin(self, *args):
        """Runs bouncectl (next to the bounced binary in the build tree, or
        $BOUNCECTL) on this bounced's admin socket; returns its stdout."""
        ctl = os.environ.get("BOUNCECTL") or os.path.join(
            os.path.dirname(os.path.dirname(self.binary)), "tools", "bouncectl")
        r = subprocess.run([ctl, "--socket", self.paths["admin"]] + list(args),
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("bouncectl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def check(self, addr):
        """CHECK <addr> -> the answer line: "OK", "SUPPRESSED <cause> <reason>
        <since>[ until=...]" or "ERR <text>"."""
        return self.query(["CHECK " + addr])[0]

    def check_many(self, addrs, batch=500):
        out = {}
        addrs = list(addrs)
        for i in range(0, len(addrs), batch):
            part = addrs[i:i + batch]
            for a, ans in zip(part, self.query(["CHECK " + a for a in part], timeout=30)):
                out[a] = ans
        return out

    def wait_check(self, addr, pred, timeout=5, interval=0.02):
        """Polls CHECK addr until pred(answer); returns the answer."""
        last = [None]

        def ok():
            last[0] = self.check(addr)
            return pred(last[0])
        try:
            wait_until(ok, timeout, interval, what="CHECK %s" % addr)
        except TimeoutError:
            raise AssertionError("CHECK %s: still %r after %.1fs\n-- bounced log --\n%s"
                                 % (addr, last[0], timeout, self.log_tail())) from None
        return last[0]


def parse_answer(line):
    """A query answer as a dict: {'verdict': 'OK'|'SUPPRESSED'|'ERR', ...}."""
    parts = line.split(" ")
    if parts[0] == "SUPPRESSED" and len(parts) >= 4:
        d = {"verdict": "SUPPRESSED", "cause": parts[1], "reason": parts[2], "since": parts[3]}
        for p in parts[4:]:
            if p.startswith("until="):
                d["until"] = p[6:]
        return d
    if parts[0] == "ERR":
        return {"verdict": "ERR", "text": line[4:]}
    return {"verdict": parts[0]}
