#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_bouncectl_parse.py - the `bouncectl parse` command as users call it.

usage: test_bouncectl_parse.py BOUNCECTL FIXTURES_DIR

Checks: --json lines are valid JSON with the fields issue 2 asks for; a
message naming nobody gives one line with recipient null and class none;
a directory, a file and standard input ("-") give the same lines; an mbox
file is split at its "From " lines; hostile bytes (control characters,
invalid UTF-8, quotes, backslashes) come out as valid JSON; an unreadable
file gives a non-zero exit and a message naming it, while the other files
are still parsed; a usage error exits 2.
"""
import json
import os
import subprocess
import sys
import tempfile

REQUIRED = ["file", "recipient", "class", "reason", "scope", "status", "replycode",
            "action", "diagnostic"]


def run(args, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True)


def lines(out):
    rows = []
    for n, line in enumerate(out.decode("utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            sys.exit("line %d: got invalid JSON (%s) want JSON: %r" % (n, e, line[:200]))
    return rows


def expect(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def main():
    bouncectl, fixtures = sys.argv[1], sys.argv[2]
    decoders = os.path.join(fixtures, "decoders")

    # a directory: every regular file, one object per (message, recipient)
    r = run([bouncectl, "parse", "--json", decoders])
    expect(r.returncode == 0, "parse DIR: got exit %d want 0 (%s)" % (r.returncode, r.stderr))
    rows = lines(r.stdout)
    for row in rows:
        for k in REQUIRED:
            expect(k in row, "got no %r field want one in %r" % (k, row))
    files = {row["file"] for row in rows}
    expect("not-a-bounce.eml" in files, "got no line for not-a-bounce.eml want one")
    nb = [row for row in rows if row["file"] == "not-a-bounce.eml"]
    expect(len(nb) == 1 and nb[0]["recipient"] is None and nb[0]["class"] == "none",
           "not-a-bounce.eml: got %r want one line, recipient null, class none" % nb)
    q = sorted(row["recipient"] for row in rows if row["file"] == "qmail.eml")
    expect(q == ["nobody@example.org", "slow@example.com"],
           "qmail.eml: got %r want both recipients" % q)

    # a file and standard input give the same lines as in the directory
    path = os.path.join(decoders, "qmail.eml")
    r1 = lines(run([bouncectl, "parse", "--json", path]).stdout)
    with open(path, "rb") as fh:
        r2 = lines(run([bouncectl, "parse", "--json", "-"], stdin=fh.read()).stdout)
    for row in r2:
        row["file"] = "qmail.eml"
    expect(r1 == r2, "FILE vs stdin: got different lines")
    expect(r1 == [row for row in rows if row["file"] == "qmail.eml"], "FILE vs DIR: got different lines")

    with tempfile.TemporaryDirectory() as tmp:
        # an mbox: two messages, split at the "From " line after an empty line
        a = open(os.path.join(decoders, "qmail.eml"), "rb").read()
        b = open(os.path.join(decoders, "dragonfly.eml"), "rb").read()
        mbox = os.path.join(tmp, "box.mbox")
        with open(mbox, "wb") as fh:
            fh.write(b"From MAILER-DAEMON Mon May  3 10:00:00 2021\n" + a.rstrip(b"\n") +
                     b"\n\nFrom MAILER-DAEMON Mon May  3 10:01:00 2021\n" + b)
        got = lines(run([bouncectl, "parse", "--json", mbox]).stdout)
        msgs = sorted({row["message"] for row in got})
        rcpts = sorted(row["recipient"] for row in got)
        expect(msgs == [1, 2], "mbox: got messages %r want [1, 2]" % msgs)
        expect(rcpts == ["nobody@example.org", "nobody@example.org", "slow@example.com"],
               "mbox: got recipients %r" % rcpts)

        # hostile bytes in every field still give valid JSON
        evil = os.path.join(tmp, "evil.eml")
        with open(evil, "wb") as fh:
            fh.write(b"From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n"
                     b"<a\"b\\\\c@example.org>:\n550 5.1.1 \x01\x02\x1b[31m \xff\xfe \"quoted\" "
                     b"back\\\\slash \xe2\x80\xa8 no such user\n")
        got = lines(run([bouncectl, "parse", "--json", evil]).stdout)
        expect(len(got) >= 1, "evil.eml: got no line")

        # an unreadable file: non-zero exit, named on stderr, others still parsed
        missing = os.path.join(tmp, "does-not-exist.eml")
        r = run([bouncectl, "parse", "--json", missing, path])
        expect(r.returncode != 0, "unreadable file: got exit 0 want non-zero")
        expect(b"does-not-exist.eml" in r.stderr, "unreadable file: got stderr %r want its name"
               % r.stderr)
        expect(len(lines(r.stdout)) == 2, "unreadable file: the other file was not parsed")

    # the table output and usage errors
    r = run([bouncectl, "parse", path])
    expect(r.returncode == 0 and b"nobody@example.org" in r.stdout, "table output: got %r" % r.stdout)
    expect(run([bouncectl, "parse"]).returncode == 2, "no FILE: got exit != 2")
    expect(run([bouncectl, "parse", "--frobnicate", path]).returncode == 2, "bad option: got exit != 2")
    expect(run([bouncectl, "no-such-command"]).returncode == 2, "bad command: got exit != 2")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
