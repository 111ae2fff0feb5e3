#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_crash.py - issue 6, crash safety: a real Postfix delivers N distinct
bounces over LMTP while the receiver is SIGKILLed K times at random moments
and restarted; afterwards every bounce Postfix generated must be in the
store exactly once, none stuck in the queue, the database intact.

    test_crash.py                       1,000 bounces, 3 kills, against $BOUNCED
    test_crash.py --full                10,000 bounces
    test_crash.py -n 300 -k 3 --fake    the same run against fake_lmtp.py (no bounced
                                   needed): proves the lab and the counting

How the N bounces are made: N recipients cNNNNNN@remote.test, refused 550
5.1.1 by the remote, sent in XVERP messages of --batch recipients, so that
Postfix generates one DSN per recipient (LMTP RCPT TO
bounces+cNNNNNN=remote.test@bounce.test).

What is counted (a DSN is identified by its Message-Id, which cleanup logs,
since short queue ids may be reused during a long run):
- generated: "sender non-delivery notification" lines of postfix/bounce;
- delivered: postfix/lmtp status=sent lines (and the deferrals around kills);
- stored: bounced: CHECK of every address over the query socket, and
  STORE_COUNT_SQL on the database after a last SIGKILL, with
  PRAGMA integrity_check; the fake: the messages in its store.
Pass: generated = delivered = stored = N, each exactly once, queue empty,
integrity ok.  The fake receiver has no de-duplication, so a kill between
its fsync and its 250 makes Postfix send that DSN again: it reports those
duplicates (at-least-once) instead of failing on them; bounced must not.

Exit 0 pass, 1 fail, 77 skipped (not root, no postfix, no $BOUNCED without --fake).
"""

import argparse
import json
import os
import random
import re
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402

R = L.REMOTE_DOMAIN
RP = L.RETURN_PATH

# The one place that knows the store's schema: the number of bounces stored.
# Adjust when store/ settles its table names.
STORE_COUNT_SQL = "SELECT count(*) FROM bounce"


def addr_of(i):
    return "c%06d@%s" % (i, R)


def verp_of(addr):
    local, dom = addr.split("@")
    return "bounces+%s=%s@%s" % (local, dom, L.BOUNCE_DOMAIN)


class Tally:
    """What the maillog says, keyed by DSN Message-Id."""

    CLEANUP = re.compile(r"^message-id=<([^>]*)>")
    NOTIFY = re.compile(r"^sender non-delivery notification: ([0-9A-F]+)")
    LMTP = re.compile(r"^to=<([^>]*)>,.*status=(\w+) ")

    def __init__(self, lab, after):
        self.f = L.LogFollower(lab.maillog, after)
        self.msgid = {}          # qid -> Message-Id of the message now under that qid
        self.generated = {}      # DSN Message-Id -> its qid
        self.sent = {}           # DSN Message-Id -> number of status=sent
        self.sent_to = {}        # DSN Message-Id -> LMTP recipient
        self.deferred = 0        # lmtp deferrals (receiver down, killed mid-session)
        self.bounced = 0         # smtp status=bounced lines (original recipients refused)
        self.lock = threading.Lock()

    def poll(self):
        with self.lock:
            for line in self.f.poll():
                d = L.parse_log_line(line)
                if not d or not d["qid"]:
                    continue
                prog, qid, msg = d["prog"], d["qid"], d["msg"]
                if prog == "cleanup":
                    m = self.CLEANUP.match(msg)
                    if m:
                        self.msgid[qid] = m.group(1)
                elif prog == "bounce":
                    m = self.NOTIFY.match(msg)
                    if m:
                        self.generated[self.msgid.get(m.group(1), m.group(1))] = m.group(1)
                elif prog == "lmtp":
                    m = self.LMTP.match(msg)
                    if not m:
                        continue
                    mid = self.msgid.get(qid, qid)
                    if m.group(2) == "sent":
                        self.sent[mid] = self.sent.get(mid, 0) + 1
                        self.sent_to[mid] = m.group(1)
                    elif m.group(2) == "deferred":
                        self.deferred += 1
                elif prog == "smtp" and "status=bounced" in msg:
                    self.bounced += 1
            return len(self.sent)


class FakeReceiver:
    name = "fake-lmtp"

    def __init__(self, lab, drop_every=0):
        self.h = lab.fake_lmtp(extra_args=["--drop-every", str(drop_every)] if drop_every else [])

    def kill(self):
        self.h.kill()

    def start(self):
        self.h.start()
        self.h.wait_ready()

    def verify(self, addrs, res):
        """Fills res with what the store holds; returns a list of failures."""
        fails = []
        by_mid = {}
        rcpts = {}
        for m in self.h.messages():
            text = m["data"].decode("utf-8", "replace")
            mid = re.search(r"(?im)^Message-Id:\s*<([^>]*)>", text)
            fr = re.findall(r"(?im)^Final-Recipient:\s*rfc822;\s*(\S+)", text)
            key = mid.group(1) if mid else m["name"]
            by_mid[key] = by_mid.get(key, 0) + 1
            for f in fr:
                rcpts[f.lower()] = rcpts.get(f.lower(), 0) + 1
                if m["rcpt_to"] != [verp_of(f.lower())]:
                    fails.append("DSN for %s came with RCPT TO %s" % (f, m["rcpt_to"]))
        res["stored_messages"] = sum(by_mid.values())
        res["stored_distinct"] = len(by_mid)
        res["stored_duplicates"] = res["stored_messages"] - len(by_mid)
        missing = [a for a in addrs if a not in rcpts]
        res["addresses_stored"] = len(addrs) - len(missing)
        if missing:
            fails.append("%d addresses not in the store, e.g. %s" % (len(missing), missing[:5]))
        res["_store_ids"] = set(by_mid)
        return fails

    def stop(self):
        self.h.stop()


class BouncedReceiver:
    name = "bounced"

    def __init__(self, lab, binary):
        self.b = L.Bounced(lab, binary)
        self.b.start()

    def kill(self):
        self.b.kill()

    def start(self):
        self.b.start()

    def verify(self, addrs, res):
        fails = []
        answers = self.b.check_many(addrs)
        not_supp = [a for a, ans in answers.items() if not ans.startswith("SUPPRESSED hard")]
        res["addresses_suppressed"] = len(addrs) - len(not_supp)
        if not_supp:
            fails.append("%d addresses not SUPPRESSED hard, e.g. %s" % (
                len(not_supp), [(a, answers[a]) for a in not_supp[:5]]))
        # What bounced logged: re-deliveries it recognised (a kill between
        # its commit and its 250), and 451s.
        try:
            with open(self.b.log_path, "rb") as f:
                log = f.read().decode("utf-8", "replace")
        except OSError:
            log = ""
        res["bounced_duplicates"] = log.count(" duplicate=1 ")
        res["bounced_451"] = log.count("event=bounce ") - log.count(" result=stored ")
        res["bounced_starts"] = log.count("event=started ")
        # The database as a crash leaves it.
        self.b.kill()
        db = sqlite3.connect(self.b.db)
        try:
            res["integrity_check"] = [r[0] for r in db.execute("PRAGMA integrity_check")]
            res["store_count"] = db.execute(STORE_COUNT_SQL).fetchone()[0]
        finally:
            db.close()
        if res["integrity_check"] != ["ok"]:
            fails.append("PRAGMA integrity_check: %s" % res["integrity_check"][:5])
        if res["store_count"] != len(addrs):
            fails.append("store holds %d bounces, want exactly %d (%s)"
                         % (res["store_count"], len(addrs), STORE_COUNT_SQL))
        return fails

    def stop(self):
        self.b.stop()


def run(args):
    rng = random.Random(args.seed)
    n, k = args.n, args.kills
    addrs = [addr_of(i) for i in range(n)]
    res = {"receiver": "fake-lmtp" if args.fake else "bounced", "bounces": n, "kills": k,
           "seed": args.seed}
    fails = []
    t0 = time.monotonic()
    with L.Lab(keep=args.keep) as lab:
        res["lab_dir"] = lab.dir if args.keep else None
        lab.remote(patterns=[(r"^c\d+@", "550 5.1.1 Recipient address rejected: User unknown")])
        recv = FakeReceiver(lab, args.fake_drop_every) if args.fake else BouncedReceiver(lab, args.bounced)
        tally = Tally(lab, lab.log_mark())

        # The batches are spread over `spread` seconds so that DSNs flow the
        # whole time, and kill i happens at a random moment of the i-th of k
        # equal slices of that window (then a random down time < 1 s).
        ts = time.monotonic()
        nbatch = (n + args.batch - 1) // args.batch
        spread = args.spread or max(4.0, 2.5 * k, n / 100.0)
        kill_at = [ts + spread * (i + rng.uniform(0.2, 0.6)) / k for i in range(k)]
        kills = []
        send_err = []

        def sender():
            try:
                for j, i in enumerate(range(0, n, args.batch)):
                    delay = ts + j * spread / nbatch - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    r = lab.send(RP, addrs[i:i + args.batch], xverp=True)
                    if r.refused or not r.queue_id:
                        send_err.append("batch %d: %r" % (i, r))
            except Exception as e:  # reported below
                send_err.append(repr(e))

        th = threading.Thread(target=sender, daemon=True)
        th.start()
        deadline = time.monotonic() + args.timeout
        while True:
            sent = tally.poll()
            # Once a kill is due, it waits (20 ms polls, at most 5 s) for a
            # moment when DSNs are on their way: some generated and not yet
            # delivered, or a batch half delivered.
            busy = len(tally.generated) > sent or sent % args.batch != 0
            due = kill_at and time.monotonic() >= kill_at[0]
            if due and not busy and time.monotonic() < kill_at[0] + 5:
                time.sleep(0.02)
                continue
            if due:
                kill_at.pop(0)
                recv.kill()
                down = rng.uniform(0.05, 1.0)
                kills.append({"at_s": round(time.monotonic() - ts, 2), "delivered": sent,
                              "generated": len(tally.generated), "busy": busy, "down_s": round(down, 2),
                              "deferred_so_far": tally.deferred})
                time.sleep(down)
                recv.start()
                continue
            if not th.is_alive() and len(tally.generated) >= n and sent >= len(tally.generated) \
                    and not lab.queue():
                break
            if time.monotonic() > deadline:
                fails.append("timeout after %ds: %d generated, %d delivered, queue %d"
                             % (args.timeout, len(tally.generated), sent, len(lab.queue())))
                break
            time.sleep(0.1)
        th.join(60)
        tally.poll()
        res["seconds_to_deliver"] = round(time.monotonic() - ts, 1)
        res["kills_done"] = kills
        if send_err:
            fails.append("sending failed: %s" % send_err[:3])
        if len(kills) != k:
            fails.append("only %d of %d kills happened" % (len(kills), k))

        gen, sent = set(tally.generated), tally.sent
        res["remote_refused"] = tally.bounced
        res["dsn_generated"] = len(gen)
        res["dsn_delivered"] = len(sent)
        res["lmtp_deferred"] = tally.deferred
        res["delivered_twice"] = sum(1 for c in sent.values() if c > 1)
        queue = lab.queue()
        res["queue_left"] = len(queue)
        if len(gen) != n:
            fails.append("Postfix generated %d DSNs, want %d" % (len(gen), n))
        if set(sent) != gen:
            fails.append("delivered != generated: %d not delivered, %d unknown" % (
                len(gen - set(sent)), len(set(sent) - gen)))
        if res["delivered_twice"]:
            fails.append("%d DSNs logged status=sent twice" % res["delivered_twice"])
        if queue:
            fails.append("%d messages stuck in the queue: %s" % (len(queue), queue[:3]))
        wrong = [(m, to) for m, to in tally.sent_to.items() if not to.startswith("bounces+c")]
        if wrong:
            fails.append("DSNs delivered to unexpected recipients: %s" % wrong[:3])

        fails += recv.verify(addrs, res)
        store_ids = res.pop("_store_ids", None)
        if store_ids is not None and store_ids != gen:
            fails.append("stored DSNs != generated: %d missing, %d unknown" % (
                len(gen - store_ids), len(store_ids - gen)))
        recv.stop()
        left = lab.stop()
        if left:
            fails.append("processes left after the lab stopped: %s" % left)
    res["seconds_total"] = round(time.monotonic() - t0, 1)
    res["failures"] = fails
    return res


def main():
    ap = argparse.ArgumentParser(description="crash-safety run (issue 6)")
    ap.add_argument("-n", type=int, default=1000, help="bounces (default 1000)")
    ap.add_argument("-k", "--kills", type=int, default=3, help="SIGKILLs (default 3)")
    ap.add_argument("--full", action="store_true", help="10,000 bounces")
    ap.add_argument("--fake", action="store_true", help="against fake_lmtp.py, not bounced")
    ap.add_argument("--fake-drop-every", type=int, default=0, metavar="N",
                    help="the fake answers 250 to every Nth message without storing it "
                         "(a lost bounce: the run must FAIL)")
    ap.add_argument("--bounced", default=None, help="bounced binary (default $BOUNCED)")
    ap.add_argument("--batch", type=int, default=None,
                    help="recipients per XVERP message (default n/40, 5..100)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--spread", type=float, default=None,
                    help="seconds over which the batches are sent (default max(4, 2.5*k, n/100))")
    ap.add_argument("--timeout", type=int, default=None, help="seconds (default scales with n)")
    ap.add_argument("--keep", action="store_true", help="keep the lab dir")
    args = ap.parse_args()
    if args.full:
        args.n = 10000
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if args.batch is None:
        args.batch = min(100, max(5, args.n // 40))
    if args.timeout is None:
        args.timeout = 120 + args.n // 5
    why = L.skip_reason()
    if not why and not args.fake and not L.bounced_binary(args.bounced):
        why = ("BOUNCED is not set or not an executable (%r); use --fake to run against the "
               "fake LMTP receiver" % (args.bounced or os.environ.get("BOUNCED")))
    if why:
        print("crash: SKIP: " + why)
        return L.SKIP
    res = run(args)
    for k, v in res.items():
        if k != "failures":
            print("crash: %s = %s" % (k, json.dumps(v)))
    for f in res["failures"]:
        print("crash: FAIL: " + f)
    print("crash: %s (%d bounces, %d kills, seed %d)" % (
        "PASS" if not res["failures"] else "FAIL", args.n, args.kills, args.seed))
    return 0 if not res["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
