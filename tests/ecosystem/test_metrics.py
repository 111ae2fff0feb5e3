#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_metrics.py - the daemon's metrics, scraped over HTTP (metrics.http)
and with `bouncectl stats --prometheus`, read with a strict parser of the
text format (promtext.py, and the official client's parser when present).

    test_metrics.py http      scrape, LMTP bounce + queries + socketmap +
                              manual suppress, scrape again: the counters
                              moved by exactly what was done; HEAD, 404, 501
    test_metrics.py cli       bouncectl stats --prometheus: the daemon's
                              families (same as HTTP) and the store's, valid
                              as one text; METRICS over the admin socket
    test_metrics.py tempfail  a locked store: 451, tempfail{reason="store"}
                              and messages{result="failed"} move
    test_metrics.py config    metrics.http: loopback only unless allowed,
                              bad values name file:line:key, a busy port
                              stops the start with the cause

Environment: BOUNCED_BIN, BOUNCECTL_BIN (meson sets them).
"""
import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bouncedtest import Daemon, check, dsn, lmtp_session, run_case, skip  # noqa: E402
import promtext  # noqa: E402

CTL = os.environ.get("BOUNCECTL_BIN")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/metrics", method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode("utf-8")
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def scrape(port):
    st, hdr, body = http_get(port)
    check(st == 200, "GET /metrics: %d %s" % (st, body[:200]))
    check(hdr.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
          "content type: %r" % hdr.get("content-type"))
    try:
        fams = promtext.parse(body)
    except promtext.FormatError as e:
        print(body)
        check(False, "invalid exposition text: %s" % e)
    n = promtext.cross_check(body)
    if n is not None:
        check(n > 0, "prometheus_client read no sample")
    return fams, body


def metrics_daemon(port, extra=None):
    secs = {"metrics": '  http: "127.0.0.1:%d"\n' % port}
    secs.update(extra or {})
    return Daemon(secs)


def v(fams, name, suffix="", **labels):
    try:
        return promtext.value(fams, name, suffix, **labels)
    except KeyError as e:
        check(False, str(e))


# Families the daemon always exposes (doc/metrics.md lists each).
DAEMON_FAMILIES = {
    "bounced_build_info": "gauge", "bounced_start_time_seconds": "gauge",
    "bounced_uptime_seconds": "gauge", "bounced_lmtp_sessions": "gauge",
    "bounced_lmtp_sessions_total": "counter", "bounced_lmtp_messages_total": "counter",
    "bounced_lmtp_tempfail_total": "counter", "bounced_lmtp_unrecognised_total": "counter",
    "bounced_bounce_recipients_total": "counter", "bounced_lmtp_ingest_seconds": "histogram",
    "bounced_suppressions_total": "counter", "bounced_suppressions_lifted_total": "counter",
    "bounced_index_entries": "gauge", "bounced_index_bytes": "gauge",
    "bounced_store_writable": "gauge", "bounced_store_writer_pending": "gauge",
    "bounced_store_commits_total": "counter", "bounced_store_committed_bounces_total": "counter",
    "bounced_store_commit_failures_total": "counter", "bounced_store_commit_batch_max": "gauge",
    "bounced_store_commit_seconds": "histogram", "bounced_queries_total": "counter",
    "bounced_query_connections": "gauge", "bounced_socketmap_requests_total": "counter",
    "bounced_socketmap_connections": "gauge", "bounced_metrics_http_requests_total": "counter",
    "bounced_log_lines_total": "counter", "bounced_events_total": "counter",
    # issue 17 (bounced/alert.c)
    "bounced_alert_incident_open": "gauge", "bounced_alert_events_total": "counter",
    "bounced_alert_deliveries_total": "counter",
    "bounced_bounces_untrusted_total": "counter", "bounced_refusals_total": "counter",
    "bounced_policy_requests_total": "counter", "bounced_policy_connections": "gauge",
}


def smap(d, req):
    s = d.connect("socketmap.sock")
    b = req.encode()
    s.sendall(b"%d:%s," % (len(b), b))
    out = s.recv(1000).decode()
    s.close()
    return out


def policy(d, rcpt):
    """One policy delegation request (as Postfix's smtpd sends it): the action."""
    s = d.connect("policy.sock")
    s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@example.org\n"
              b"recipient=%s\n\n" % rcpt.encode())
    out = b""
    while not out.endswith(b"\n\n"):
        chunk = s.recv(1000)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode()


def case_http():
    port = free_port()
    with metrics_daemon(port) as d:
        d.start()
        check(d.grep("event=metrics_http listen=127.0.0.1:%d" % port), "logged the endpoint")
        f0, body = scrape(port)
        got = {n: f.type for n, f in f0.items()}
        check(got == DAEMON_FAMILIES, "families:\n got  %s\n want %s"
              % (sorted(got.items()), sorted(DAEMON_FAMILIES.items())))
        check(v(f0, "bounced_index_entries") == 0, "empty index")
        check(v(f0, "bounced_store_writable") == 1, "writable")

        # one hard bounce, one unrecognised message, in one LMTP session
        c = lmtp_session(d)
        check(c.deliver(dsn("gone@example.net"))[0].startswith("250"), "bounce stored")
        check(c.deliver("Subject: hello\n\njust mail\n")[0].startswith("250"), "plain mail stored")
        check(c.deliver(dsn("gone@example.net"))[0].startswith("250"), "same bounce again")
        f1, _ = scrape(port)
        check(v(f1, "bounced_lmtp_sessions") == 1, "one session open")
        c.f.close()  # the makefile holds the socket open
        c.close()
        # queries: ok, suppressed, err; the socketmap: found, not found
        check(d.query("CHECK gone@example.net", "CHECK fine@example.net", "CHECK nonsense") ==
              ["SUPPRESSED hard userunknown " + d.query("CHECK gone@example.net")[0].split()[3],
               "OK", d.query("CHECK nonsense")[0]], "query answers")
        check(smap(d, "suppressed gone@example.net").split(":", 1)[1].startswith("OK 550"),
              "socketmap found")
        check("NOTFOUND" in smap(d, "suppressed fine@example.net"), "socketmap notfound")
        # the policy service: reject, dunno
        check(policy(d, "gone@example.net").startswith("action=550 5.1.1 "), "policy reject")
        check(policy(d, "fine@example.net") == "action=DUNNO\n\n", "policy dunno")
        # a manual suppression and its lifting (admin socket -> writer -> index)
        _, st = d.admin("SUPPRESS target=manual@example.org note=test")
        check(st.startswith("OK"), st)
        _, st = d.admin("UNSUPPRESS target=manual@example.org note=test")
        check(st.startswith("OK"), st)

        f2, body = scrape(port)
        print(body)

        def delta(name, suffix="", **labels):
            return v(f2, name, suffix, **labels) - (f0[name].get(suffix, **labels) or 0)
        want = [
            (("bounced_lmtp_sessions_total",), {"result": "accepted"}, 1),
            (("bounced_lmtp_messages_total",), {"result": "stored"}, 2),
            (("bounced_lmtp_messages_total",), {"result": "duplicate"}, 1),
            (("bounced_lmtp_messages_total",), {"result": "failed"}, 0),
            (("bounced_lmtp_unrecognised_total",), {}, 1),
            # trust.mode any (the test harness): nothing untrusted, no refusal
            (("bounced_bounces_untrusted_total",), {"cause": "tag-absent"}, 0),
            (("bounced_refusals_total",), {}, 0),
            (("bounced_bounce_recipients_total",), {"class": "hard", "reason": "userunknown"}, 1),
            (("bounced_lmtp_ingest_seconds", "_count"), {}, 3),
            (("bounced_suppressions_total",), {"cause": "hard"}, 1),
            (("bounced_suppressions_total",), {"cause": "manual"}, 1),
            (("bounced_suppressions_lifted_total",), {}, 1),
            (("bounced_store_committed_bounces_total",), {}, 3),
            (("bounced_queries_total",), {"result": "ok"}, 1),
            (("bounced_queries_total",), {"result": "suppressed"}, 2),
            (("bounced_queries_total",), {"result": "err"}, 2),
            (("bounced_socketmap_requests_total",), {"result": "found"}, 1),
            (("bounced_socketmap_requests_total",), {"result": "other"}, 1),
            (("bounced_policy_requests_total",), {"result": "reject"}, 1),
            (("bounced_policy_requests_total",), {"result": "dunno"}, 1),
            (("bounced_policy_requests_total",), {"result": "defer"}, 0),
            (("bounced_policy_requests_total",), {"result": "error"}, 0),
            (("bounced_metrics_http_requests_total",), {}, 2),
            (("bounced_index_entries",), {}, 1),
        ]
        for name, labels, n in want:
            got = delta(*name, **labels)
            check(got == n, "%s%s moved by %s, want %s" % ("".join(name), labels, got, n))
        commits = delta("bounced_store_commits_total")
        check(1 <= commits <= 3, "commits %s" % commits)
        check(delta("bounced_store_commit_seconds", "_count") == commits,
              "one commit duration per transaction of bounces")
        check(v(f2, "bounced_store_commit_seconds", "_sum") > 0, "commit durations add up")
        # the closed session is gone once the daemon has seen the EOF
        for _ in range(100):
            if v(scrape(port)[0], "bounced_lmtp_sessions") == 0:
                break
            time.sleep(0.05)
        check(v(scrape(port)[0], "bounced_lmtp_sessions") == 0, "the session is closed")
        # only seen class/reason pairs are listed
        check(set(k[1] for k in f2["bounced_bounce_recipients_total"].samples) ==
              {(("class", "hard"), ("reason", "userunknown"))},
              f2["bounced_bounce_recipients_total"].samples)

        # HEAD: headers only; other paths 404; other methods 501 (libevent)
        st, hdr, body = http_get(port, method="HEAD")
        check(st == 200 and body == "", "HEAD: %d %r" % (st, body[:50]))
        st, _, _ = http_get(port, "/")
        check(st == 404, "GET /: %d" % st)
        st, _, _ = http_get(port, "/metricsX")
        check(st == 404, "GET /metricsX: %d" % st)
        st, _, _ = http_get(port, "/metrics?name[]=x")
        check(st == 200, "query string: %d" % st)
        st, _, _ = http_get(port, method="POST")
        check(st == 501, "POST: %d (libevent answers 501 to a method not allowed)" % st)
        # a client that sends nothing does not stop the others
        idle = socket.create_connection(("127.0.0.1", port))
        scrape(port)
        idle.close()


def ctl(d, *args):
    if not CTL:
        skip("BOUNCECTL_BIN is not set")
    r = subprocess.run([CTL, args[0], "--config", d.config] + list(args[1:]),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def case_cli():
    port = free_port()
    with metrics_daemon(port) as d:
        d.start()
        c = lmtp_session(d)
        check(c.deliver(dsn("cli@example.net"))[0].startswith("250"), "bounce stored")
        c.close()
        d.query("CHECK cli@example.net")
        rc, out, err = ctl(d, "stats", "--prometheus")
        check(rc == 0, "bouncectl stats --prometheus: %d %s" % (rc, err))
        try:
            fams = promtext.parse(out)
        except promtext.FormatError as e:
            print(out)
            check(False, "bouncectl stats --prometheus: %s" % e)
        check(promtext.cross_check(out) != 0, "prometheus_client")
        for name, typ in DAEMON_FAMILIES.items():
            check(name in fams and fams[name].type == typ, "%s missing from bouncectl" % name)
        # the store's families of the period
        for name in ("bounced_stored_bounces", "bounced_events", "bounced_suppressed"):
            check(name in fams, "%s missing" % name)
        check(v(fams, "bounced_events", **{"class": "hard"}) == 1, "events by class")
        check(v(fams, "bounced_lmtp_messages_total", result="stored") == 1, "messages")
        check(v(fams, "bounced_queries_total", result="suppressed") == 1, "queries")
        # the same daemon families as HTTP (counters may not move between the two)
        hf, _ = scrape(port)
        for name in ("bounced_bounce_recipients_total", "bounced_suppressions_total",
                     "bounced_queries_total"):
            check(hf[name].samples == fams[name].samples, "%s differs: %s vs %s"
                  % (name, hf[name].samples, fams[name].samples))
        # the admin verb itself
        s = d.connect("admin.sock")
        s.sendall(b"METRICS\n")
        f = s.makefile("rb")
        status = f.readline().decode()
        check(status.startswith("OK bytes="), status)
        n = int(status.split("=")[1])
        text = f.read(n + 1).decode()
        check(text.endswith("\n\n") and len(text) == n + 1, "METRICS framing")
        promtext.parse(text[:-1])
        s.sendall(b"METRICS x=1\n")
        check(f.readline().decode().startswith("ERR usage"), "METRICS takes no argument")
        s.close()


def case_tempfail():
    port = free_port()
    with metrics_daemon(port, {"store": "  busy_timeout_ms: 100\n"}) as d:
        d.start()
        db = sqlite3.connect(os.path.join(d.state, "bounced.db"), timeout=5,
                             isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        c = lmtp_session(d)
        r = c.deliver(dsn("locked@example.net"))
        check(r[0].startswith("451 4.3.0"), "locked store: %r" % r)
        f, _ = scrape(port)
        check(v(f, "bounced_lmtp_tempfail_total", reason="store") == 1, "tempfail store")
        check(v(f, "bounced_lmtp_messages_total", result="failed") == 1, "failed message")
        check(v(f, "bounced_store_commit_failures_total") >= 1, "commit failures")
        check(v(f, "bounced_store_writable") == 0, "not writable")
        check(not f["bounced_bounce_recipients_total"].samples, "a failed message counts no rcpt")
        db.execute("ROLLBACK")
        db.close()
        check(c.deliver(dsn("locked@example.net"))[0].startswith("250"), "after unlock")
        c.close()
        f, _ = scrape(port)
        check(v(f, "bounced_store_writable") == 1, "writable again")
        check(v(f, "bounced_lmtp_messages_total", result="stored") == 1, "stored after unlock")


def case_config():
    d = Daemon()
    try:
        def check_config(metrics):
            d.write_config(open(d.config).read().split("metrics:")[0] + "metrics:\n" + metrics)
            return subprocess.run([d.bin, "--check-config", "--config", d.config],
                                  capture_output=True, text=True)
        base = open(d.config).read()
        for good in ('  http: "127.0.0.1:9187"\n', '  http: "[::1]:9187"\n',
                     '  http: localhost:9187\n', '  http: "127.1.2.3:1"\n', '  http:\n',
                     '  http: "0.0.0.0:9187"\n  allow_non_loopback: true\n'):
            r = check_config(good)
            check(r.returncode == 0, "%r refused: %s" % (good, r.stderr))
        for bad, why in (('  http: "0.0.0.0:9187"\n', "0.0.0.0 is not a loopback address"),
                         ('  http: "192.0.2.1:9187"\n', "is not a loopback address"),
                         ('  http: "[::]:9187"\n', ":: is not a loopback address"),
                         ('  http: "127.0.0.1"\n', "is not host:port"),
                         ('  http: "127.0.0.1:0"\n', "from 1 to 65535"),
                         ('  http: "127.0.0.1:99999"\n', "from 1 to 65535"),
                         ('  http: "prometheus.example:9187"\n', "numeric address or localhost"),
                         ('  http: "::1:9187"\n', "is not host:port"),
                         ('  allow_non_loopback: maybe\n', "not a boolean"),
                         ('  port: 9187\n', "unknown key")):
            r = check_config(bad)
            check(r.returncode == 78 and why in r.stderr and "bounced.yaml:" in r.stderr and
                  "metrics." in r.stderr, "%r: %d %s" % (bad, r.returncode, r.stderr))
        # a port in use: the start fails and says why
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        busy_port = busy.getsockname()[1]
        d.write_config(base + 'metrics:\n  http: "127.0.0.1:%d"\n' % busy_port)
        d.start(wait=False)
        rc = d.proc.wait(20)
        busy.close()
        check(rc == 1, "exit status %r" % rc)
        check("event=startup_failed error=\"cannot listen on 127.0.0.1:%d (metrics.http)"
              % busy_port in d.read_log(), d.read_log())
    finally:
        d.cleanup(check_exit=False)


if __name__ == "__main__":
    run_case({"http": case_http, "cli": case_cli, "tempfail": case_tempfail,
              "config": case_config})
