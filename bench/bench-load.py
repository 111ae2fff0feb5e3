#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench-load.py - issue 6, bounced under load: QUERY_CLIENTS concurrent query
clients (lock-step, bench/bench-query.c) while IDLE_LMTP LMTP connections try
to sit idle, new LMTP sessions keep delivering bounces, and extra query
clients arrive beyond query.max_connections.  Prints, for the record (a
benchmark, not a timed test; rough on a shared machine, client and daemon
share the CPUs):

  queries       paced: QUERY_CLIENTS clients asking QUERY_RATE times a second
                in all (each once every QUERY_CLIENTS/QUERY_RATE s, as
                applications checking before each mail): p50/p90/p99/max
                latency, counted from when each request was due;
                saturated: the same clients asking again the moment a reply
                comes (closed loop): the most requests/s, and the latency
                that queueing then gives (Little: clients / throughput)
  idle LMTP     how many got a session, were refused (421 4.3.2), were
                evicted later to make room (421 4.4.2)
  new LMTP      sessions served / refused while all slots are held, latency
  excess query  clients beyond the limit: refused with "ERR too many
                connections" or served (an idle one evicted)
  memory        bounced's RSS sampled during the run and its peak (VmHWM)

    bench/bench-load.py                  (after ninja -C build)
    SECS=20 KEYS=1000000 bench/bench-load.py

Environment: BOUNCED_BIN, BENCH_QUERY (default build/...), SECS (10),
KEYS (addresses stored first, 100000), QUERY_CLIENTS (1000), QUERY_RATE
(requests/s in all for the paced run, 20000), IDLE_LMTP (500),
LMTP_MAX (lmtp.max_connections, 64), QUERY_MAX (query.max_connections, 1024),
EXCESS (extra query clients, 100).
"""
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BOUNCED = os.environ.get("BOUNCED_BIN", os.path.join(ROOT, "build", "bounced", "bounced"))
BENCH_QUERY = os.environ.get("BENCH_QUERY", os.path.join(ROOT, "build", "bench", "bench-query"))
SECS = float(os.environ.get("SECS", "10"))
KEYS = int(os.environ.get("KEYS", "100000"))
QUERY_CLIENTS = int(os.environ.get("QUERY_CLIENTS", "1000"))
QUERY_RATE = int(os.environ.get("QUERY_RATE", "20000"))
IDLE_LMTP = int(os.environ.get("IDLE_LMTP", "500"))
LMTP_MAX = int(os.environ.get("LMTP_MAX", "64"))
QUERY_MAX = int(os.environ.get("QUERY_MAX", "1024"))
EXCESS = int(os.environ.get("EXCESS", "100"))

DSN = ("From: MAILER-DAEMON@mx.bench.test\r\nTo: bounces@bounce.test\r\n"
       "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
       "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.bench.test\r\n"
       "\r\nFinal-Recipient: rfc822; new%d@load.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
       "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--b--\r\n")


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf.decode("utf-8", "replace")


def lmtp_reply(f):
    """A whole (multi-line) reply from a makefile()."""
    lines = []
    while True:
        l = f.readline().decode("utf-8", "replace")
        if not l:
            return lines or ["(eof)"]
        lines.append(l.rstrip("\r\n"))
        if len(l) < 4 or l[3] != "-":
            return lines


class NewSessions(threading.Thread):
    """A new LMTP session delivering one bounce every `every` seconds."""

    def __init__(self, path, every=0.1):
        super().__init__(daemon=True)
        self.path, self.every = path, every
        self.stop = threading.Event()
        self.served, self.refused, self.failed, self.lat = 0, 0, [], []

    def one(self, i):
        t0 = time.monotonic()
        s = connect(self.path, timeout=10)
        f = s.makefile("rb")
        try:
            g = lmtp_reply(f)[0]
            if g.startswith("421"):
                self.refused += 1
                return
            for cmd in (b"LHLO bench\r\n", b"MAIL FROM:<>\r\n", b"RCPT TO:<bounces@bounce.test>\r\n",
                        b"DATA\r\n"):
                s.sendall(cmd)
                r = lmtp_reply(f)
                if not r[-1][:1] in ("2", "3"):
                    self.failed.append(r[-1])
                    return
            s.sendall((DSN % i).encode() + b".\r\n")
            r = lmtp_reply(f)[0]
            if r.startswith("250"):
                self.served += 1
                self.lat.append(time.monotonic() - t0)
            else:
                self.failed.append(r)
            s.sendall(b"QUIT\r\n")
        finally:
            s.close()

    def run(self):
        i = 0
        while not self.stop.is_set():
            try:
                self.one(i)
            except OSError as e:
                self.failed.append(repr(e))
            i += 1
            time.sleep(self.every)


def main():
    for p in (BOUNCED, BENCH_QUERY):
        if not os.access(p, os.X_OK):
            sys.exit("bench-load: %s is not built (ninja -C build)" % p)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_LMTP + QUERY_CLIENTS + EXCESS + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard), hard))
    tmp = tempfile.mkdtemp(prefix="bench-load-")
    os.chmod(tmp, 0o755)
    run = os.path.join(tmp, "run")
    cfg = os.path.join(tmp, "bounced.yaml")
    with open(cfg, "w") as f:
        if os.geteuid() == 0:
            f.write("user: nobody\n")
        f.write("log:\n  level: info\n"
                "lmtp:\n  socket: run/lmtp.sock\n  max_connections: %d\n  hostname: bench.test\n"
                "query:\n  socket: run/query.sock\n  max_connections: %d\n"
                "socketmap:\n  socket: run/socketmap.sock\n"
                "policy_service:\n  socket: run/policy.sock\n"
                "admin:\n  socket: run/admin.sock\n"
                "store:\n  path: state/bounced.db\n  secret_file: state/secret\n"
                % (LMTP_MAX, QUERY_MAX))
    log = open(os.path.join(tmp, "bounced.log"), "wb")
    d = subprocess.Popen([BOUNCED, "--config", cfg], stdout=log, stderr=subprocess.STDOUT,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                               (hard, hard)))
    held = []
    try:
        deadline = time.time() + 20
        while not os.path.exists(os.path.join(run, "admin.sock")):
            if d.poll() is not None or time.time() > deadline:
                sys.exit("bench-load: bounced did not start")
            time.sleep(0.05)
        time.sleep(0.2)
        print("# bench-load: %d query clients lock-step, %d idle LMTP connections, %d s, "
              "%d addresses, lmtp.max_connections %d, query.max_connections %d, %d CPUs"
              % (QUERY_CLIENTS, IDLE_LMTP, SECS, KEYS, LMTP_MAX, QUERY_MAX, os.cpu_count()))
        # the store: KEYS suppressed addresses through the admin IMPORT
        s = connect(os.path.join(run, "admin.sock"), timeout=600)
        f = s.makefile("rb")
        s.sendall(b"IMPORT source=bench\n")
        assert f.readline() == b"OK send\n"
        for lo in range(0, KEYS, 50000):
            s.sendall("".join("+ target=user%d@bench.test cause=hard reason=userunknown\n" % i
                              for i in range(lo, min(KEYS, lo + 50000))).encode())
        s.sendall(b".\n")
        print("import: " + f.readline().decode().strip())
        s.close()
        rss0 = status_kib(d.pid, "VmRSS")

        # IDLE_LMTP connections that say LHLO and then nothing
        lmtp = os.path.join(run, "lmtp.sock")
        refused = 0
        t0 = time.monotonic()
        for _ in range(IDLE_LMTP):
            c = connect(lmtp)
            cf = c.makefile("rb")
            g = lmtp_reply(cf)[0]
            if g.startswith("220"):
                c.sendall(b"LHLO idle\r\n")
                lmtp_reply(cf)
                held.append(c)
            else:
                refused += 1
                c.close()
        print("idle LMTP: %d connections in %.2f s: %d got a session, %d refused at once "
              "(421 4.3.2 Too many connections: all %d slots active within the last second)"
              % (IDLE_LMTP, time.monotonic() - t0, len(held), refused, LMTP_MAX))

        rss_samples = []
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                rss_samples.append(status_kib(d.pid, "VmRSS"))
                time.sleep(0.25)
        threading.Thread(target=sampler, daemon=True).start()
        time.sleep(1.2)    # the idle ones are now evictable
        news = NewSessions(lmtp)
        news.start()
        def bench_query(rate):
            return subprocess.Popen([BENCH_QUERY, "-s", os.path.join(run, "query.sock"), "-P",
                                     "bounced", "-c", str(QUERY_CLIENTS), "-d", "1", "-t", str(SECS),
                                     "-k", str(KEYS)] + (["-r", str(rate)] if rate else []),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                          (hard, hard)))
        q = bench_query(QUERY_RATE)
        # in the middle of the run: EXCESS more query clients
        time.sleep(min(3.0, SECS / 2))
        ex_refused = ex_served = ex_other = 0
        extra = []
        for _ in range(EXCESS):
            try:
                c = connect(os.path.join(run, "query.sock"), timeout=2)
                try:
                    c.sendall(b"CHECK excess@load.test\n")
                except BrokenPipeError:
                    pass     # refused and closed already: the reason is there to read
                r = readline(c)
            except OSError as e:
                r = repr(e)
            if r == "ERR too many connections\n":
                ex_refused += 1
            elif r == "OK\n":
                ex_served += 1
                extra.append(c)
            else:
                ex_other += 1
        out, err = q.communicate(timeout=SECS + 120)
        qline = out.decode().strip()
        print("queries, paced (%d/s in all): %s" % (QUERY_RATE, qline))
        if q.returncode != 0:
            print("bench-query failed: " + err.decode()[-500:])
        kv = dict(t.split("=", 1) for t in qline.split() if "=" in t)
        for c in extra:
            c.close()
        extra = []
        # the same clients, saturating: the most the daemon answers here
        out, err = bench_query(0).communicate(timeout=SECS + 120)
        sline = out.decode().strip()
        print("queries, saturated (closed loop): " + sline)
        skv = dict(t.split("=", 1) for t in sline.split() if "=" in t)
        news.stop.set()
        news.join(30)
        stop.set()
        evicted = 0
        for c in held:
            c.settimeout(0.05)
            try:
                r = c.recv(200)
                if b"421 4.4.2" in r:
                    evicted += 1
            except OSError:
                pass
        print("excess query clients: %d beyond %d active ones: %d refused with \"ERR too many "
              "connections\", %d served, %d other" % (EXCESS, QUERY_CLIENTS, ex_refused, ex_served,
                                                      ex_other))
        print("new LMTP sessions during the run: %d served (250 after commit), %d refused, "
              "%d failed; latency p50 %.1f ms, max %.1f ms; %d idle sessions evicted to make room "
              "(421 4.4.2)" % (news.served, news.refused, len(news.failed),
                               pct(news.lat, 50) * 1000, max(news.lat or [0]) * 1000, evicted))
        if news.failed:
            print("  failures: %r" % news.failed[:3])
        hwm = status_kib(d.pid, "VmHWM")
        print("bounced memory: RSS %d KiB after the import, max sampled %d KiB during the run, "
              "peak (VmHWM) %d KiB = %.1f MiB; fds %d"
              % (rss0, max(rss_samples or [0]), hwm, hwm / 1024.0,
                 len(os.listdir("/proc/%d/fd" % d.pid))))
        p99 = float(kv.get("p99_us", "nan"))
        print("summary paced_rps=%s p50_us=%s p99_us=%s max_us=%s p99_under_5ms=%s "
              "saturated_rps=%s saturated_p99_us=%s lmtp_new_served=%d lmtp_new_refused=%d "
              "idle_evicted=%d excess_refused=%d peak_rss_kib=%d"
              % (kv.get("rps"), kv.get("p50_us"), kv.get("p99_us"), kv.get("max_us"),
                 "yes" if p99 < 5000 else "NO", skv.get("rps"), skv.get("p99_us"), news.served,
                 news.refused, evicted, ex_refused, hwm))
        for c in extra:
            c.close()
    finally:
        for c in held:
            c.close()
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(30)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        if os.environ.get("KEEP_TMP"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
