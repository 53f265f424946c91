# The corpus table in Markdown (scripts/corpus): table.py RESULTS.jsonl TABLE.md [README.md]
# With README.md, the table also replaces what stands between its `<!-- corpus table -->` and
# `<!-- corpus table end -->` lines.
import json
import sys

results = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mark = {"pass": "pass", "fail": "**fail**", "n/a": "n/a", "skip": "-"}


def mb(b):
    return "-" if b is None else f"{b / 1e6:.1f}"


def secs(x):
    return "-" if x is None else f"{x:.1f}"


rows = ["| program | kind | minify | OCI archive (runc) | Dockerfile (buildah, runc) | rootfs MB | files | "
        "its packages: count, MB | Dockerfile instructions | minify s | phases s | buildah bud s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
notes = []
for r in results:
    st = r["steps"]
    cells = []
    for s in ("minify", "oci", "dockerfile"):
        c = mark.get(st[s], st[s])
        if st[s] == "fail" and s in r["expected"]:
            c = f"fail ({r['expected'][s]['issue']})"
        cells.append(c)
    if st["host"] != "pass":
        cells = ["host run failed", "-", "-"]
    ph = r.get("phases") or {}
    phases = ", ".join(f"{k} {v:.1f}" for k, v in ph.items())
    pk = f"{r['packages']}, {mb(r.get('package_bytes'))}" if "packages" in r else "-"
    rows.append(f"| {r['program']} | {r['kind']} | {' | '.join(cells)} | {mb(r.get('rootfs_bytes'))} | "
                f"{r.get('files', '-')} | {pk} | {r.get('instructions', 'n/a')} | {secs(r.get('wall'))} | {phases or '-'} | {secs(r.get('build'))} |")
    for s in ("host", "minify", "oci", "dockerfile"):
        if st[s] != "fail":
            continue
        if s in r["expected"]:
            e = r["expected"][s]
            notes.append(f"- {r['program']}, {s}: {e['reason']} ({e['issue']})")
        else:
            notes.append(f"- {r['program']}, {s}: {r['why'][s]}")
passed = sum(1 for r in results if r["verdict"] in ("PASS", "XPASS"))
text = "\n".join(rows) + "\n"
text += f"\n{passed} of {len(results)} programs pass (minify exits 0 and both images give the host's result).\n"
if notes:
    text += "\nFailures, with their cause:\n\n" + "\n".join(notes) + "\n"
with open(sys.argv[2], "w") as f:
    f.write(text)

if len(sys.argv) > 3:
    readme = open(sys.argv[3]).read()
    begin, end = "<!-- corpus table -->\n", "<!-- corpus table end -->\n"
    if begin in readme and end in readme:
        head, rest = readme.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(sys.argv[3], "w") as f:
            f.write(head + begin + text + end + tail)
    else:
        print(f"table.py: {sys.argv[3]} has no {begin.strip()} ... {end.strip()} lines", file=sys.stderr)
        sys.exit(1)
