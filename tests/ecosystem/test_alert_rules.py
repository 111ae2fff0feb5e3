# SPDX-License-Identifier: MIT
"""Issue 17: doc/alerts.rules.yml loads (`promtool check rules`) and fires on
the series bounced exposes (`promtool test rules` with
alerts-rules-test.yml).  Exit 77 (skipped) when promtool (Debian package
prometheus) is not installed."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "..", "..", "doc", "alerts.rules.yml")


def main():
    promtool = shutil.which("promtool")
    if not promtool:
        print("SKIP: promtool is not installed (apt-get install prometheus)")
        return 77
    r = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True)
    print(r.stdout + r.stderr)
    if r.returncode != 0:
        print("FAIL: promtool check rules")
        return 1
    with open(os.path.join(HERE, "alerts-rules-test.yml")) as f:
        test = f.read().replace("RULES", os.path.abspath(RULES))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "test.yml")
        with open(path, "w") as f:
            f.write(test)
        r = subprocess.run([promtool, "test", "rules", path], capture_output=True, text=True)
    print(r.stdout + r.stderr)
    if r.returncode != 0:
        print("FAIL: promtool test rules")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
