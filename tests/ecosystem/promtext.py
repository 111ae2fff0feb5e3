# SPDX-License-Identifier: MIT
"""promtext.py - a strict reader of the Prometheus text exposition format
(version 0.0.4), for the metrics tests.  Stdlib only.

    fams = parse(text)          # raises FormatError naming the line
    fams["bounced_queries_total"].samples[(("result", "ok"),)] -> 3.0
    value(fams, "bounced_queries_total", result="ok") -> 3.0

Checked: every line is a HELP, a TYPE or a sample (no blank lines, no other
comments); HELP then TYPE once per family, before its samples; the samples
of a family are contiguous; names and label names are well formed, label
values correctly escaped, no label twice in a series, no series twice;
values are floats (or +Inf, -Inf, NaN); counters end in _total; a
histogram has _bucket series with increasing le ending at +Inf, cumulative
counts that never decrease, +Inf equal to _count, and a _sum; the text ends
with a newline.  cross_check() also parses the text with the official
python client's parser when some python3 on the machine has it.
"""
import math
import re
import shutil
import subprocess

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"(?:[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf)|NaN)"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (%s)(?: (-?[0-9]+))?$" % (NAME, VALUE))
LABEL_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"' % LABEL)
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)


class FormatError(Exception):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = {}          # (sample name, labels tuple) -> float

    def get(self, suffix="", **labels):
        key = (self.name + suffix, tuple(sorted(labels.items())))
        return self.samples.get(key)


def _unescape(v):
    return v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _float(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    return -math.inf if s == "-Inf" else float(s)


def _family_of(name, fams):
    """The family a sample name belongs to (histogram suffixes)."""
    if name in fams:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and name[:-len(suf)] in fams:
            return name[:-len(suf)]
    return None


def parse(text):
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    fams = {}
    order = []
    current = None
    closed = set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        def err(why):
            raise FormatError("line %d: %s: %r" % (n, why, line))
        if line == "":
            err("empty line")
        m = HELP_RE.match(line)
        if m:
            name = m.group(1)
            if name in fams:
                err("second HELP for %s" % name)
            if current is not None:
                closed.add(current)
            f = fams[name] = Family(name)
            f.help = m.group(2)
            if not f.help.strip():
                err("empty HELP")
            if re.search(r"\\[^\\n]", f.help):
                err("bad escape in HELP")
            order.append(name)
            current = name
            continue
        m = TYPE_RE.match(line)
        if m:
            name = m.group(1)
            if name != current or fams[name].type is not None or fams[name].samples:
                err("TYPE must follow its family's HELP, once, before the samples")
            fams[name].type = m.group(2)
            continue
        if line.startswith("#"):
            err("comment that is neither HELP nor TYPE")
        m = SAMPLE_RE.match(line)
        if not m:
            err("not a sample line")
        sname, labels_text, value = m.group(1), m.group(2), m.group(3)
        fam = _family_of(sname, fams)
        if fam is None or fams[fam].type is None:
            err("sample before its family's HELP and TYPE")
        if fam != current or fam in closed:
            err("samples of %s are not contiguous" % fam)
        f = fams[fam]
        if sname != fam and f.type not in ("histogram", "summary"):
            err("suffix on a %s" % f.type)
        labels = []
        if labels_text is not None:
            parts = LABEL_RE.findall(labels_text)
            if ",".join('%s="%s"' % p for p in parts) != labels_text or not parts:
                err("malformed labels")
            names = [p[0] for p in parts]
            if len(set(names)) != len(names):
                err("a label twice")
            labels = [(k, _unescape(v)) for k, v in parts]
        key = (sname, tuple(sorted(labels)))
        if key in f.samples:
            err("series twice")
        f.samples[key] = _float(value)
    for name in order:
        f = fams[name]
        if f.type is None:
            raise FormatError("%s has HELP but no TYPE" % name)
        if f.type == "counter":
            if not name.endswith("_total"):
                raise FormatError("counter %s does not end in _total" % name)
            if any(v < 0 or math.isnan(v) for v in f.samples.values()):
                raise FormatError("counter %s is negative" % name)
        if f.type == "histogram":
            _check_histogram(f)
    return fams


def _check_histogram(f):
    groups = {}
    for (sname, labels), v in f.samples.items():
        rest = tuple(l for l in labels if l[0] != "le")
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == f.name + "_bucket":
            le = [l[1] for l in labels if l[0] == "le"]
            if len(le) != 1:
                raise FormatError("%s_bucket without le" % f.name)
            g["buckets"].append((_float(le[0]), v))
        elif sname == f.name + "_sum":
            g["sum"] = v
        elif sname == f.name + "_count":
            g["count"] = v
        else:
            raise FormatError("%s: unexpected series %s" % (f.name, sname))
    if not groups:
        raise FormatError("histogram %s has no samples" % f.name)
    for rest, g in groups.items():
        b = sorted(g["buckets"])
        if not b or b[-1][0] != math.inf:
            raise FormatError("%s%s: no +Inf bucket" % (f.name, rest))
        if g["sum"] is None or g["count"] is None:
            raise FormatError("%s%s: _sum or _count missing" % (f.name, rest))
        if b[-1][1] != g["count"]:
            raise FormatError("%s%s: +Inf bucket %s != _count %s" % (f.name, rest, b[-1][1],
                                                                     g["count"]))
        for (_, a), (_, c) in zip(b, b[1:]):
            if c < a:
                raise FormatError("%s%s: buckets not cumulative" % (f.name, rest))


def value(fams, name, suffix="", **labels):
    f = fams.get(name)
    if f is None:
        raise KeyError("no family %s" % name)
    v = f.get(suffix, **labels)
    if v is None:
        raise KeyError("no series %s%s%s" % (name, suffix, labels))
    return v


CROSS = r"""
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for fam in text_string_to_metric_families(sys.stdin.read()):
    n += len(fam.samples)
print(n)
"""


def cross_check(text):
    """Parses text with prometheus_client (python3-prometheus-client) if a
    python3 on the machine has it; returns the sample count, or None when
    no such interpreter is found.  Raises FormatError when it refuses."""
    for py in ("python3", "/usr/bin/python3"):
        exe = shutil.which(py) if "/" not in py else py
        if not exe:
            continue
        r = subprocess.run([exe, "-c", "import prometheus_client"], capture_output=True)
        if r.returncode != 0:
            continue
        r = subprocess.run([exe, "-c", CROSS], input=text, capture_output=True, text=True)
        if r.returncode != 0:
            raise FormatError("prometheus_client refused the text: %s" % r.stderr[-2000:])
        return int(r.stdout.strip())
    return None
