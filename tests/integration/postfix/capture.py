#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capture.py - drive the scenarios of issue 4 through a real Postfix into the
fake LMTP receiver and capture the DSNs Postfix sends.

    capture.py                  run every scenario, print what was captured
    capture.py --write [DIR]    also (re)write the fixtures, by default
                                tests/fixtures/postfix-dsn/ of this tree

Each scenario returns a list of Capture: the DSN bytes as received over
LMTP, its LMTP envelope, the maillog lines that tell its story, and what a
parser should extract (recipient, action, status).  test_lab.py runs them
as the lab's self-test; the fixtures are what the parser tests use as
real-Postfix DSNs.
"""

import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402

R = L.REMOTE_DOMAIN
RP = L.RETURN_PATH

# The remote's replies, per recipient (the python responder of lab.py).
RULES = {
    "x@" + R: "550 5.1.1 <x@%s>: Recipient address rejected: User unknown in virtual mailbox table" % R,
    "a@" + R: "550 5.1.1 <a@%s>: Recipient address rejected: User unknown" % R,
    "b@" + R: "552 5.2.2 <b@%s>: Mailbox full" % R,
    "c@" + R: "554 5.7.1 <c@%s>: Relay access denied" % R,
    "y@" + R: "452 4.2.2 <y@%s>: Mailbox full, try again later" % R,
    "z@" + R: "450 4.2.0 <z@%s>: Recipient address rejected: Greylisted, try again later" % R,
    "v1@" + R: "550 5.1.1 <v1@%s>: Recipient address rejected: User unknown" % R,
    "v2@" + R: "550 5.1.1 <v2@%s>: Recipient address rejected: User unknown" % R,
    "w@" + R: "550 5.1.1 <w@%s>: Recipient address rejected: User unknown" % R,
}


class Capture:
    def __init__(self, name, msg, expect, story, note):
        self.name = name              # fixture name
        self.data = msg["data"]       # bytes as received (CRLF)
        self.envelope = {"mail_from": msg["mail_from"], "mail_params": msg["mail_params"],
                         "rcpt_to": msg["rcpt_to"]}
        self.expect = expect          # [{"recipient", "action", "status"}]
        self.story = story            # maillog lines (paths of the lab stripped)
        self.note = note

    def fields(self):
        """(Final-Recipient, Action, Status) per recipient block of the DSN."""
        text = self.data.decode("utf-8", "replace").replace("\r\n", "\n")
        out = []
        for block in re.split(r"\n\n", text):
            fr = re.search(r"^Final-Recipient:\s*rfc822;\s*(\S+)", block, re.M | re.I)
            ac = re.search(r"^Action:\s*(\S+)", block, re.M | re.I)
            st = re.search(r"^Status:\s*(\S+)", block, re.M | re.I)
            if fr and ac and st:
                out.append({"recipient": fr.group(1), "action": ac.group(1),
                            "status": st.group(1)})
        return out


def _story(lab, after, qids):
    out = []
    for line in lab.log_lines(after):
        d = L.parse_log_line(line)
        if d and d["qid"] in qids:
            out.append(line.replace(lab.dir, "$LAB"))
    return out


def _one(lab, fake, orig_qid, after, kind="non-delivery"):
    dsn = lab.wait_dsn(orig_qid, after=after, kind=kind)
    lab.wait_sent(dsn, after=after)
    msg = fake.message_for_qid(dsn)
    assert msg, "DSN %s delivered but not found in the fake LMTP store" % dsn
    return dsn, msg


# ---- scenarios -------------------------------------------------------------

def hard(lab, fake):
    """Hard reject: one recipient refused 550 5.1.1 at RCPT."""
    mark = lab.log_mark()
    r = lab.send(RP, ["x@" + R])
    dsn, msg = _one(lab, fake, r.queue_id, mark)
    return [Capture("hard-550-5.1.1", msg,
                    [{"recipient": "x@" + R, "action": "failed", "status": "5.1.1"}],
                    _story(lab, mark, {r.queue_id, dsn}),
                    "the remote refuses the recipient with 550 5.1.1 at RCPT TO")]


def multi(lab, fake):
    """One message, three failing recipients (5.1.1, 5.2.2, 5.7.1) and one
    delivered: one DSN with three per-recipient blocks."""
    mark = lab.log_mark()
    r = lab.send(RP, ["a@" + R, "b@" + R, "c@" + R, "ok@" + R])
    dsn, msg = _one(lab, fake, r.queue_id, mark)
    return [Capture("multi-rcpt", msg,
                    [{"recipient": "a@" + R, "action": "failed", "status": "5.1.1"},
                     {"recipient": "b@" + R, "action": "failed", "status": "5.2.2"},
                     {"recipient": "c@" + R, "action": "failed", "status": "5.7.1"}],
                    _story(lab, mark, {r.queue_id, dsn}),
                    "one message to a@ (550 5.1.1), b@ (552 5.2.2), c@ (554 5.7.1) and ok@ "
                    "(accepted): one DSN naming the three failures, not ok@")]


def soft_expired(lab, fake):
    """A 4xx that expires at once (maximal_queue_lifetime=0): Action failed,
    Status 4.2.2.  Pitfall 5: that setting also caps bounce_queue_lifetime,
    so the LMTP side must be up, and it is put back afterwards."""
    lab.set(maximal_queue_lifetime="0")
    try:
        mark = lab.log_mark()
        r = lab.send(RP, ["y@" + R])
        dsn, msg = _one(lab, fake, r.queue_id, mark)
    finally:
        lab.set(maximal_queue_lifetime="1h")
    return [Capture("soft-expired-4.2.2", msg,
                    [{"recipient": "y@" + R, "action": "failed", "status": "4.2.2"}],
                    _story(lab, mark, {r.queue_id, dsn}),
                    "452 4.2.2 at RCPT with maximal_queue_lifetime=0: the message expires after "
                    "one attempt; a soft failure, not a dead address")]


def delayed(lab, fake):
    """A delay warning (delay_warning_time=1s) for a greylisted recipient:
    Action delayed, Status 4.2.0; the message stays queued (deleted here)."""
    lab.set(delay_warning_time="1s")
    try:
        mark = lab.log_mark()
        r = lab.send(RP, ["z@" + R])
        dsn, msg = _one(lab, fake, r.queue_id, mark, kind="delay")
        story = _story(lab, mark, {r.queue_id, dsn})
        lab.delete_queue()
    finally:
        lab.set(delay_warning_time="0h")
    return [Capture("delayed-4.2.0", msg,
                    [{"recipient": "z@" + R, "action": "delayed", "status": "4.2.0"}],
                    story,
                    "450 4.2.0 (greylisting) with delay_warning_time=1s: a \"Delayed Mail (still "
                    "being retried)\" warning; never a reason to suppress")]


def xverp(lab, fake):
    """XVERP: one message to v1@ and v2@, both refused: one DSN per
    recipient, each to bounces+vN=remote.test@bounce.test."""
    mark = lab.log_mark()
    r = lab.send(RP, ["v1@" + R, "v2@" + R], xverp=True)
    dsns = lab.wait_dsns(r.queue_id, 2, after=mark)
    out = []
    for dsn in dsns:
        lab.wait_sent(dsn, after=mark)
        msg = fake.message_for_qid(dsn)
        assert msg, dsn
        rcpt = msg["rcpt_to"][0]
        who = re.match(r"bounces\+(v\d)=", rcpt).group(1)
        out.append(Capture("xverp-%s" % who, msg,
                           [{"recipient": "%s@%s" % (who, R), "action": "failed",
                             "status": "5.1.1"}],
                           _story(lab, mark, {r.queue_id, dsn}),
                           "sent with MAIL FROM:<%s> XVERP to v1@ and v2@: one DSN per "
                           "recipient; the LMTP RCPT TO encodes the recipient "
                           "(bounces+%s=remote.test@bounce.test)" % (RP, who)))
    out.sort(key=lambda c: c.name)
    return out


def lmtp_down(lab, fake):
    """The LMTP side is down (socket missing), then answers 451 4.3.0, then
    is back: the DSN stays queued through both and arrives once."""
    fake.stop()
    assert not os.path.exists(lab.lmtp_socket)
    mark = lab.log_mark()
    r = lab.send(RP, ["w@" + R])
    dsn = lab.wait_dsn(r.queue_id, after=mark)
    lab.wait_log(r"lmtp\[\d+\]: %s: .*status=deferred \(connect to .*No such file" % dsn,
                 after=mark)
    q = [m for m in lab.queue() if m["queue_id"] == dsn]
    assert q and q[0]["sender"] in ("", "MAILER-DAEMON") and q[0]["recipients"][0]["address"] == RP, q
    mark451 = lab.log_mark()
    fake.restart(data_reply="451 4.3.0 store unavailable")
    lab.wait_log(r"lmtp\[\d+\]: %s: .*status=deferred .*451 4\.3\.0" % dsn, after=mark451)
    assert [m for m in lab.queue() if m["queue_id"] == dsn], "DSN left the queue after a 451"
    assert fake.message_for_qid(dsn) is None
    fake.restart(data_reply="")
    lab.wait_sent(dsn, after=mark, timeout=30)
    msg = fake.message_for_qid(dsn)
    assert msg
    lab.wait_queue_empty(10)
    return [Capture("lmtp-down-then-back", msg,
                    [{"recipient": "w@" + R, "action": "failed", "status": "5.1.1"}],
                    _story(lab, mark, {r.queue_id, dsn}),
                    "the LMTP socket is missing, then the server answers 451 4.3.0 at DATA: "
                    "Postfix keeps the DSN queued (status=deferred) and delivers it once the "
                    "server is back; the DSN itself is an ordinary hard bounce")]


SCENARIOS = [hard, multi, soft_expired, delayed, xverp, lmtp_down]


def run_all(lab=None, only=None):
    """Runs the scenarios on one lab; returns {scenario: [Capture]}."""
    own = lab is None
    if own:
        lab = L.Lab()
    try:
        lab.remote(RULES)
        fake = lab.fake_lmtp()
        out = {}
        for sc in SCENARIOS:
            if only and sc.__name__ not in only:
                continue
            out[sc.__name__] = sc(lab, fake)
        return out
    finally:
        if own:
            lab.stop()


README_HEAD = """\
# Real Postfix DSNs

Captured by `tests/integration/postfix/capture.py --write`: a private Postfix
3.7 (Debian 12) under a temp dir relays to a test SMTP server on 127.0.0.1
that refuses chosen recipients, and delivers its DSNs over LMTP to a fake
receiver that stores each message as received (dot-unstuffed; CRLF turned
into LF here). Nothing is edited: dates, queue ids and boundaries are those
of the run. Regenerate with `capture.py --write` (root, postfix installed).

`<name>.eml` is the DSN; `<name>.envelope` is its LMTP envelope (MAIL FROM,
RCPT TO). `index.json` has, per fixture, the envelope and what a parser
should extract from each per-recipient block.

The sending side: MAIL FROM:<bounces@bounce.test> (the Return-Path mailbox
routed to bounced), recipients in remote.test, reporting MTA mx.lab.test.

| fixture | how it was produced | parser should extract (recipient, action, status) | LMTP envelope |
| --- | --- | --- | --- |
"""


def write_fixtures(caps, outdir):
    os.makedirs(outdir, exist_ok=True)
    index = {}
    rows = []
    for sc, lst in caps.items():
        for c in lst:
            with open(os.path.join(outdir, c.name + ".eml"), "wb") as f:
                f.write(c.data.replace(b"\r\n", b"\n"))
            env = "MAIL FROM:<%s>%s\n" % (c.envelope["mail_from"],
                                          "".join(" " + p for p in c.envelope["mail_params"]))
            env += "".join("RCPT TO:<%s>\n" % r for r in c.envelope["rcpt_to"])
            with open(os.path.join(outdir, c.name + ".envelope"), "w") as f:
                f.write(env)
            index[c.name] = {"scenario": sc, "how": c.note, "envelope": c.envelope,
                             "recipients": c.expect, "maillog": c.story}
            rows.append("| `%s.eml` | %s | %s | `%s` |" % (
                c.name, c.note,
                "; ".join("%s, %s, %s" % (e["recipient"], e["action"], e["status"])
                          for e in c.expect),
                env.strip().replace("\n", "` `")))
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write(README_HEAD + "\n".join(rows) + "\n")
        f.write("\nThe maillog lines of each capture are in `index.json` (\"maillog\"); "
                "`$LAB` stands for the lab's temp dir.\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "fixtures", "postfix-dsn"))
    ap = argparse.ArgumentParser(description="capture real Postfix DSNs")
    ap.add_argument("--write", nargs="?", const=default_out, default=None, metavar="DIR")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    why = L.skip_reason()
    if why:
        print("capture: skipped: " + why)
        return L.SKIP
    t0 = time.monotonic()
    caps = run_all(only=a.only)
    for sc, lst in caps.items():
        for c in lst:
            print("%-22s %-28s env=%s -> %s" % (sc, c.name, c.envelope["rcpt_to"], c.fields()))
    if a.write:
        write_fixtures(caps, a.write)
        print("wrote fixtures to %s" % a.write)
    print("capture: %.1fs" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
