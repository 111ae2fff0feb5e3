#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_corpus.py - bounced's parser against the shared bounce corpus.

usage: test_corpus.py BOUNCECTL CORPUS_DIR DISAGREEMENTS

Used for ../shared/corpus (tests/corpus/corpus-disagreements.txt) and for
../shared/corpus-extra (tests/corpus/corpus-extra-disagreements.txt).

Runs `bouncectl parse --json CORPUS_DIR/emails`, scores it with
CORPUS_DIR/../tools/score.py against CORPUS_DIR/truth.jsonl (the full
output is printed, for the record), then scores it again against the truth
without the rows listed in DISAGREEMENTS (lines where the truth itself is
wrong, each with the evidence from the email; the parser's lines for the
same file and recipient are left out too) and asserts the issue's thresholds on that
second score:

    recall >= 0.99, class accuracy >= 0.98,
    hard precision >= 0.995, hard recall >= 0.97

Exits 77 (meson's "skipped") when the corpus or score.py is absent.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

THRESHOLDS = {"recall": 0.99, "class_acc": 0.98, "hard_precision": 0.995, "hard_recall": 0.97}


def score(scorer, truth, pred):
    out = subprocess.run([sys.executable, scorer, truth, pred], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"^score: (.*)$", out, re.M)
    if m is None:
        sys.exit("test_corpus.py: no score line in score.py output:\n" + out)
    values = dict(kv.split("=") for kv in m.group(1).split())
    return out, {k: float(v) for k, v in values.items()}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    bouncectl, corpus, disagreements = sys.argv[1:]
    emails = os.path.join(corpus, "emails")
    truth = os.path.join(corpus, "truth.jsonl")
    scorer = os.path.join(corpus, "..", "tools", "score.py")
    for p in (emails, truth, scorer):
        if not os.path.exists(p):
            print("test_corpus.py: %s not found: skipped" % p)
            return 77

    with tempfile.TemporaryDirectory() as tmp:
        pred = os.path.join(tmp, "predictions.jsonl")
        with open(pred, "w") as fh:
            r = subprocess.run([bouncectl, "parse", "--json", emails], stdout=fh)
        if r.returncode != 0:
            sys.exit("test_corpus.py: bouncectl parse exited %d" % r.returncode)
        with open(pred) as fh:
            for n, line in enumerate(fh, 1):
                json.loads(line)        # every line is valid JSON

        out, full = score(scorer, truth, pred)
        print("=== against the whole truth (for the record)")
        print(out)

        skip = set()
        with open(disagreements) as fh:
            for line in fh:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                f, rcpt, _why = line.split("\t", 2)
                skip.add((f, rcpt.lower()))
        kept = os.path.join(tmp, "truth-kept.jsonl")
        dropped = 0
        with open(truth) as src, open(kept, "w") as dst:
            for line in src:
                row = json.loads(line)
                if (row["file"], (row.get("recipient") or "").lower()) in skip:
                    dropped += 1
                    continue
                dst.write(line)
        if dropped != len(skip):
            sys.exit("test_corpus.py: %d disagreement lines match no truth row: fix %s"
                     % (len(skip) - dropped, disagreements))
        # the parser's own lines for those rows go too: neither side counts
        pred_kept = os.path.join(tmp, "predictions-kept.jsonl")
        with open(pred) as src, open(pred_kept, "w") as dst:
            for line in src:
                row = json.loads(line)
                if (row["file"], (row.get("recipient") or "").lower()) not in skip:
                    dst.write(line)
        out, kept_score = score(scorer, kept, pred_kept)
        print("=== against the truth without the %d documented disagreements (%s)"
              % (dropped, os.path.basename(disagreements)))
        print(out)

    failed = []
    for k, want in THRESHOLDS.items():
        got = kept_score[k]
        if not got >= want:
            failed.append("%s: got %.4f want >= %.3f" % (k, got, want))
    if failed:
        print("test_corpus.py: FAILED\n  " + "\n  ".join(failed))
        return 1
    print("test_corpus.py: thresholds met (%s)" % ", ".join(
        "%s %.3f" % (k, kept_score[k]) for k in THRESHOLDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
