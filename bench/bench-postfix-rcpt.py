#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench-postfix-rcpt.py - what a Postfix client sees: the time of one RCPT
TO answered by a real, private Postfix 3.7 (tests/integration/postfix/lab.py,
Debian's chroot settings) asking bounced, in one run, three ways:

  none       no check (the cost of smtpd itself)
  socketmap  check_recipient_access proxy:socketmap:...:suppressed in
             smtpd_recipient_restrictions (the guide before issue 14; proxy:
             because Debian's smtpd is chrooted)
  policy     check_policy_service unix:private/bounced-policy after
             permit_auth_destination in smtpd_relay_restrictions (the guide
             since issue 14)

bounced holds KEYS suppressed addresses; half of the RCPTs name one of them
(answered 550), half another address (250); "refused" is the share
answered 5xx (0.50 with a check, 0 without).  One SMTP session sends RCPTS
recipients (RSET every 500, smtpd_recipient_limit), ROUNDS rounds
alternating between the three.  Prints RCPT/s, p50 and p99 (microseconds)
of each round and the medians.  Root only (the lab).

    BOUNCED=build/bounced/bounced bench/bench-postfix-rcpt.py
    KEYS=10000 RCPTS=5000 ROUNDS=3 ...
"""
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "postfix"))
import lab as L  # noqa: E402
import test_guide as G  # noqa: E402

KEYS = int(os.environ.get("KEYS", "10000"))
RCPTS = int(os.environ.get("RCPTS", "5000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def import_keys(path, n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rb")
    s.sendall(b"IMPORT source=bench\n")
    assert f.readline() == b"OK send\n"
    s.sendall("".join("+ target=user%d@%s cause=hard reason=userunknown\n" % (i, L.REMOTE_DOMAIN)
                      for i in range(n)).encode() + b".\n")
    line = f.readline().decode()
    assert line.startswith("OK imported=%d " % n), line
    s.close()


def run(lab, n):
    """n RCPTs in one session; returns the latencies (us) and the share refused."""
    lat, refused = [], 0
    with smtplib.SMTP("127.0.0.1", lab.smtpd_port, local_hostname="app.lab.test",
                      timeout=60) as s:
        s.ehlo()
        s.mail("shop@lab.test")
        for i in range(n):
            if i and i % 500 == 0:
                s.rset()
                s.mail("shop@lab.test")
            # user0..user<2K-1>: half suppressed
            rcpt = "user%d@%s" % ((i * 7919) % (2 * KEYS), L.REMOTE_DOMAIN)
            t0 = time.perf_counter_ns()
            code, _ = s.rcpt(rcpt)
            lat.append((time.perf_counter_ns() - t0) / 1000.0)
            if code not in (250, 550, 554):
                sys.exit("unexpected RCPT reply %d for %s" % (code, rcpt))
            refused += code != 250
        s.rset()
    return lat, refused / n


def main():
    if L.skip_reason() or not L.bounced_binary():
        print("bench-postfix-rcpt: SKIP: %s" % (L.skip_reason() or "set BOUNCED"))
        return 77
    # refused RCPTs are errors to smtpd: no sleeping, no 421 after 20 of them
    lab = L.Lab(start=False, params={"smtpd_recipient_limit": "1000",
                                     "smtpd_hard_error_limit": "1000000",
                                     "smtpd_soft_error_limit": "1000000",
                                     "smtpd_error_sleep_time": "0"})
    try:
        G.debian_chroot(lab)
        lab.start()
        b = L.Bounced(lab).start()
        import_keys(b.paths["admin"], KEYS)
        sm = "proxy:socketmap:unix:%s:suppressed" % b.paths["socketmap"]
        configs = {
            "none": ("permit_mynetworks, reject", ""),
            "socketmap": ("permit_mynetworks, reject",
                          "check_recipient_access %s, permit_mynetworks, reject" % sm),
            "policy": ("permit_auth_destination, check_policy_service "
                       "unix:private/bounced-policy, permit_mynetworks, reject", ""),
        }
        print("# bench-postfix-rcpt: Postfix %s, %d addresses, %d RCPTs per round, %d rounds, "
              "%d CPUs, %s" % (lab.postconf("mail_version"), KEYS, RCPTS, ROUNDS,
                               os.cpu_count(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        res = {k: [] for k in configs}
        for r in range(1, ROUNDS + 1):
            for name, (relay, rcpt) in configs.items():
                subprocess.run([L._sbin("postconf"), "-c", lab.etc, "-e",
                                "smtpd_relay_restrictions=" + relay,
                                "smtpd_recipient_restrictions=" + rcpt], check=True)
                lab.reload()
                run(lab, 200)                   # warm up: processes, proxymap, connections
                t0 = time.monotonic()
                lat, refused = run(lab, RCPTS)
                took = time.monotonic() - t0
                lat.sort()
                fig = (RCPTS / took, lat[len(lat) // 2], lat[int(len(lat) * 0.99)])
                res[name].append(fig)
                print("round %d: %-9s rcpt_per_s=%.0f p50_us=%.0f p99_us=%.0f refused=%.2f"
                      % (r, name, fig[0], fig[1], fig[2], refused))
        print("%-10s %10s %8s %8s" % ("", "rcpt/s", "p50_us", "p99_us"))
        for name in configs:
            m = [statistics.median(x[i] for x in res[name]) for i in range(3)]
            print("%-10s %10.0f %8.0f %8.0f" % (name, m[0], m[1], m[2]))
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
