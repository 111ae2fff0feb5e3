#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-man.py EXAMPLE_YAML MANPAGE... - the man pages render without a
groff warning, and bounced.yaml(5) documents every key of
config.example.yaml (a key added to the example and not to the page fails
this test).  Python standard library and groff only; skips (77) without
groff."""
import os
import re
import shutil
import subprocess
import sys


def example_keys(path):
    """Dotted key names of a YAML file written like config.example.yaml
    (block mappings, two-space indent, comments), without a YAML library."""
    keys, stack = [], []
    for line in open(path, encoding="utf-8"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^( *)([A-Za-z_][A-Za-z0-9_]*):", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2)))
        keys.append(".".join(k for _, k in stack))
    return keys


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    if not shutil.which("groff"):
        print("SKIP: groff is not installed")
        return 77
    example, pages = sys.argv[1], sys.argv[2:]
    failed = 0
    for p in pages:
        r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", p], capture_output=True)
        if r.returncode != 0 or r.stderr:
            print("FAIL: %s does not render cleanly:\n%s" % (p, r.stderr.decode()))
            failed += 1
    yaml5 = [p for p in pages if os.path.basename(p) == "bounced.yaml.5"]
    if yaml5:
        src = open(yaml5[0], encoding="utf-8").read()
        documented = set(re.findall(r"^\.BI? ([a-z_.]+)", src, re.M))
        keys = example_keys(example)
        sections = {k.split(".")[0] for k in keys if "." in k}
        for k in keys:
            if k in sections or k in ("policy.soft", "policy.expiry", "policy.provider_groups"):
                continue        # a section, not a key
            if k.startswith("policy.expiry.") or k.startswith("policy.provider_groups."):
                leaf = k.rsplit(".", 1)[1]
                prefix = k.rsplit(".", 1)[0] + "."
                if prefix not in documented or leaf not in src:
                    print("FAIL: %s: %s (%s*) is not documented" % (yaml5[0], k, prefix))
                    failed += 1
                continue
            if k not in documented:
                print("FAIL: %s: key %s of %s is not documented" % (yaml5[0], k, example))
                failed += 1
        print("%d keys of %s checked" % (len(keys), example))
    print("PASS" if not failed else "%d failures" % failed)
    return 1 if failed else 0


sys.exit(main())
