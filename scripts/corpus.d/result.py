# One corpus program's result (scripts/corpus): its verdict against the expected-failure list and its
# measurements, from the work directory scripts/corpus.d/run left.
#   result.py PROGRAM WORK XFAIL_FILE KEY=VALUE...
# Keys: host, minify, oci, dockerfile (pass, fail, n/a, skip), STEP.why (the reason of a failure),
# kind, apt. Prints the program's line on stderr and its JSON record on stdout.
#
# Measurements: minify's wall time and phases (the `minify: time:` line when minify prints one, as
# `minify image` does; otherwise from when its stderr lines appeared: `tracing` to `verifying` is the
# trace, the analysis and the writing of every output, `verifying` to the end is the verify run),
# rootfs bytes and files (report.json's totals), the packages that ship a file and the bytes of those
# packages on the builder (report.json: kept + left out, per package), and the Dockerfile's
# instructions (continuation lines joined, comments left out).
import json
import os
import re
import sys

name, work, xfail_file = sys.argv[1:4]
kv = dict(a.split("=", 1) for a in sys.argv[4:])
steps = ["host", "minify", "oci", "dockerfile"]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


rec = {"program": name, "kind": kv.get("kind", ""), "apt": kv.get("apt", "").split(),
       "steps": {s: kv.get(s, "skip") for s in steps}, "why": {s: kv.get(s + ".why", "") for s in steps}}

# Expected failures, one a line: PROGRAM | STEP | ISSUE | MATCH | CAUSE. A failing step is expected
# when each of its reasons (a step's reasons are separated by "; ") contains the MATCH of one of the
# step's entries: a new failure beside a known one is still a failure.
entries = {}
for line in (read(xfail_file) or "").splitlines():
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    parts = [p.strip() for p in line.split("|")]
    if len(parts) != 5 or parts[0] != name:
        continue
    entries.setdefault(parts[1], []).append({"issue": parts[2], "match": parts[3], "reason": parts[4]})
expected = {}
for s in steps:
    why = kv.get(s + ".why", "")
    if kv.get(s) != "fail" or s not in entries:
        continue
    reasons = [r.strip() for r in why.split("; ") if r.strip()] or [why]
    matched = []
    for r in reasons:
        e = next((e for e in entries[s] if e["match"] in r), None)
        if e is None:
            matched = None
            break
        if e not in matched:
            matched.append(e)
    if matched:
        expected[s] = {"issue": ", ".join(dict.fromkeys(e["issue"] for e in matched)),
                       "reason": "; ".join(e["reason"] for e in matched)}
rec["expected"] = expected
rec["listed"] = sorted(entries)

# Measurements.
times = read(os.path.join(work, "minify.time"))
if times:
    t0, t1 = map(float, times.split())
    rec["wall"] = round(t1 - t0, 2)
    phases = {}
    lines = []
    for l in (read(os.path.join(work, "minify.err")) or "").splitlines():
        stamp, _, text = l.partition(" ")
        try:
            lines.append((float(stamp), text))
        except ValueError:
            pass
    for _, text in lines:
        m = re.match(r"minify: time: unpack ([\d.]+)s, trace ([\d.]+)s, pack ([\d.]+)s, verify ([\d.]+)s", text)
        if m:
            phases = {"unpack": float(m[1]), "trace": float(m[2]), "pack": float(m[3]), "verify": float(m[4])}
    if not phases:
        start = next((t for t, x in lines if x.startswith("minify: tracing")), None)
        verify = next((t for t, x in lines if x.startswith("minify: verifying")), None)
        if start is not None:
            phases["trace+pack"] = round((verify or t1) - start, 2)
        if verify is not None:
            phases["verify"] = round(t1 - verify, 2)
    rec["phases"] = phases
report = read(os.path.join(work, "minify", "report.json"))
if report:
    r = json.loads(report)
    tot = r.get("totals", {})
    rec["rootfs_bytes"] = tot.get("bytes")
    rec["files"] = tot.get("files")
    pk = (r.get("packages") or {}).get("packages") or []
    rec["packages"] = len(pk)
    rec["package_bytes"] = sum(p.get("kept_bytes", 0) + p.get("bytes_saved", 0) for p in pk)
build = read(os.path.join(work, "dockerfile.time"))
if build:
    b0, b1 = map(float, build.split())
    rec["build"] = round(b1 - b0, 1)
dockerfile = read(os.path.join(work, "minify", "Dockerfile"))
if dockerfile:
    joined = re.sub(r"\\\n", " ", dockerfile)
    rec["instructions"] = sum(1 for l in joined.splitlines() if l.strip() and not l.lstrip().startswith("#"))

# The verdict. A step that did not run because an earlier one failed is not a failure of its own.
bad = [s for s in steps if rec["steps"][s] == "fail"]
unexpected = [s for s in bad if s not in expected]
if not bad:
    verdict = "XPASS" if entries else "PASS"
elif unexpected:
    verdict = "FAIL"
else:
    verdict = "XFAIL"
rec["verdict"] = verdict


def mb(b):
    return f"{b / 1e6:.1f} MB" if b is not None else "-"


status = ", ".join(f"{s} {rec['steps'][s]}" for s in steps[1:])
size = f"{mb(rec.get('rootfs_bytes'))}, {rec.get('files', '-')} files" if "files" in rec else "no rootfs"
out = f"{verdict:5} {name}: {status} | {size} | {rec.get('wall', '-')} s"
for s in bad:
    if s in expected:
        out += f" | {s}: expected ({expected[s]['issue']}: {expected[s]['reason']})"
    else:
        out += f" | {s}: {rec['why'][s]}"
stale = [s for s in entries if rec["steps"].get(s) == "pass"]
rec["stale"] = stale
for s in stale:
    out += f" | {s} passes: remove its line from scripts/corpus.d/xfail"
print(out, file=sys.stderr)
print(json.dumps(rec))
