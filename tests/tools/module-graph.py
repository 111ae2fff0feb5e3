#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""module-graph.py LIB.a... - fails when the modules of bounced's static
libraries call each other in a circle.

A module is one .c file (its object in the archive); a file named X-*.c
next to a private header X-int.h belongs to module X (bounced/admin-*.c is
the admin module).  Module A depends on module B when A's object uses a
symbol that B's object defines, which is what "A imports B" means at link
time, whatever the headers say.  The graph is printed (A -> B, C) and every
cycle is reported; exit 1 when there is one.

    tests/tools/module-graph.py build/bounced/libbounced.a build/store/libstore.a
"""
import os
import subprocess
import sys


def members(lib):
    """{member: (defined, undefined)} from nm's listing of the archive."""
    out = subprocess.run(["nm", "-A", lib], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        # "lib.a:[dir/]member.o:0000000000000000 T name" or "...:                 U name"
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        member = os.path.basename(parts[1])
        fields = parts[2].split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        d, u = syms.setdefault(member, (set(), set()))
        (u if kind == "U" else d if kind in "TDBRC" else set()).add(name)
    return syms


def module_of(member, private):
    """admin-read.c.o -> admin when admin-int.h exists; lmtp-server.c.o -> lmtp-server."""
    stem = member.split(".")[0]
    for p in private:
        if stem == p or stem.startswith(p + "-"):
            return p
    return stem


def main(libs):
    private = set()
    for lib in libs:
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           os.path.basename(os.path.dirname(os.path.abspath(lib))))
        if os.path.isdir(src):
            private |= {f[:-6] for f in os.listdir(src) if f.endswith("-int.h")}
    defs, uses = {}, {}
    for lib in libs:
        folder = os.path.basename(os.path.dirname(os.path.abspath(lib)))
        for member, (d, u) in members(lib).items():
            mod = folder + "/" + module_of(member, private)
            for name in d:
                defs[name] = mod
            uses.setdefault(mod, set()).update(u)
    graph = {m: sorted({defs[s] for s in u if s in defs and defs[s] != m})
             for m, u in uses.items()}
    for m in sorted(graph):
        print("%s -> %s" % (m, ", ".join(graph[m]) if graph[m] else "(leaf)"))
    cycles, state, stack = [], {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in graph.get(m, ()):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2
    for m in sorted(graph):
        if m not in state:
            visit(m)
    for c in cycles:
        print("CYCLE: " + " -> ".join(c))
    print("%d modules, %d cycles" % (len(graph), len(cycles)))
    return 1 if cycles else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
