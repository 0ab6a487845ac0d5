#!/usr/bin/env python3
"""Reads a timeline written by tools/cupti_trace.c and says where the GPU's time went.

The records are split into segments wherever the GPU idles longer than --split-ms (the host's pauses between
forwards), or one window is cut out with --between FIRST LAST (from the last kernel whose name holds FIRST to the
last whose name holds LAST: `--between patchify unpatchify` is a DiT's last forward); for the segment asked (the
last by default) it prints the span, the time some kernel, copy or memset
ran and the idle rest, the kernels grouped by name with their total time, and the longest idle gaps with the
work on either side. --json writes the same as JSON; --every K prints every segment's span, busy time and its K
longest kernels instead.

    python3 tools/timeline.py trace.tsv [--segment -1 | --between FIRST LAST] [--per N] [--split-ms 20]
                              [--top 25] [--json out.json]

--per N adds each kernel's time divided by N (a forward's layers).
"""
import argparse
import json
import re
import subprocess
import sys


def read(path):
    """The records sorted by start, and the count of lines that are not records (skipped)."""
    rows, skipped = [], 0
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            try:
                kind, start, end, stream = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
                if kind not in ("K", "C", "S") or end < start or len(parts) != 5:
                    raise ValueError
            except (ValueError, IndexError):
                skipped += 1
                continue
            rows.append((kind, start, end, stream, parts[4]))
    rows.sort(key=lambda r: r[1])
    return rows, skipped


def demangle(names):
    """Short readable names: demangled where c++filt is present, templates and arguments dropped."""
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
        full = out.stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        full = names
    short = {}
    for raw, pretty in zip(names, full):
        name, depth, kept = pretty.replace("(anonymous namespace)::", ""), 0, []
        for ch in name:  # the template and function arguments
            depth += ch in "<("
            if depth == 0:
                kept.append(ch)
            depth -= ch in ">)"
        short[raw] = "".join(kept).replace("void ", "").strip()[:90] or raw[:90]
    return short


def segments(rows, split_ns):
    out, start, end = [], 0, None
    for i, r in enumerate(rows):
        if end is not None and r[1] - end > split_ns:
            out.append(rows[start:i])
            start = i
        end = r[2] if end is None else max(end, r[2])
    if rows:
        out.append(rows[start:])
    return out


KIND_NAMES = {"C": "copy", "S": "memset"}  # the records that are not kernels


def label(row, names):
    return names.get(row[4], row[4]) if row[0] == "K" else f"{KIND_NAMES[row[0]]} {row[4]} B"


def between(rows, names, first, last):
    """The rows from the last kernel named like `first` up to the last named like `last`."""
    def last_index(part, before=None):
        hits = [i for i, r in enumerate(rows[:before]) if r[0] == "K" and part in names.get(r[4], r[4])]
        if not hits:
            sys.exit(f"no kernel named like {part!r}" + (" before the last one named like the end" if before else ""))
        return hits[-1]
    end = last_index(last)
    return rows[last_index(first, end):end + 1]


def summarise(seg, names, top):
    begin, finish = seg[0][1], max(r[2] for r in seg)
    busy, gaps, end, prev = 0, [], begin, None
    for r in seg:  # the union of the intervals, and the gaps between them
        if r[1] > end:
            gaps.append((r[1] - end, prev, r))
        busy += max(0, r[2] - max(r[1], end))
        if r[2] > end:
            end, prev = r[2], r
    by_name = {}
    for r in seg:
        key = label(r, names) if r[0] == "K" else KIND_NAMES[r[0]]
        n, t = by_name.get(key, (0, 0))
        by_name[key] = (n + 1, t + r[2] - r[1])
    gaps.sort(key=lambda g: -g[0])
    return {
        "span_ms": (finish - begin) / 1e6,
        "busy_ms": busy / 1e6,
        "idle_ms": (finish - begin - busy) / 1e6,
        "records": len(seg),
        "kernels": [{"name": k, "count": n, "total_ms": t / 1e6}
                    for k, (n, t) in sorted(by_name.items(), key=lambda kv: -kv[1][1])[:top]],
        "gaps": [{"idle_ms": g / 1e6, "after": label(a, names) if a else None, "before": label(b, names)}
                 for g, a, b in gaps[:top]],
        "gaps_over_50us": sum(1 for g in gaps if g[0] > 50_000),
        "idle_in_gaps_over_50us_ms": sum(g[0] for g in gaps if g[0] > 50_000) / 1e6,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("--segment", type=int, default=-1, help="which segment (python index; -1 the last)")
    ap.add_argument("--split-ms", type=float, default=20.0, help="idle time that separates segments")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--between", nargs=2, metavar=("FIRST", "LAST"), help="the window between two kernels")
    ap.add_argument("--per", type=int, default=0, help="also each kernel's time divided by this (layers)")
    ap.add_argument("--every", type=int, default=0, help="every segment, with this many kernels each")
    a = ap.parse_args()
    try:
        rows, skipped = read(a.trace)
    except OSError as e:
        sys.exit(f"{a.trace}: {e.strerror}")
    if skipped:
        print(f"{a.trace}: {skipped} lines that are not records skipped")
    if not rows:
        sys.exit(f"{a.trace}: no records")
    segs = segments(rows, a.split_ms * 1e6)
    print(f"{len(rows)} records, {len(segs)} segments: " +
          ", ".join(f"{(s[-1][2] - s[0][1]) / 1e6:.0f} ms" for s in segs[:40]))
    names = demangle(sorted({r[4] for r in rows if r[0] == "K"}))
    if a.every:
        for i, seg in enumerate(segs):
            s = summarise(seg, names, a.every)
            print(f"segment {i}: span {s['span_ms']:.2f} ms, busy {s['busy_ms']:.2f}, idle {s['idle_ms']:.2f}")
            for k in s["kernels"]:
                print(f"  {k['total_ms']:10.3f} ms {k['count']:7d}x  {k['name']}")
        return
    if not -len(segs) <= a.segment < len(segs):
        sys.exit(f"{a.trace}: no segment {a.segment} (there are {len(segs)})")
    window = between(rows, names, *a.between) if a.between else segs[a.segment]
    s = summarise(window, names, a.top)
    if a.per:
        for k in s["kernels"]:
            k["per_ms"] = k["total_ms"] / a.per
    where = f"between {a.between[0]} and {a.between[1]}" if a.between else f"segment {a.segment}"
    print(f"{where}: span {s['span_ms']:.1f} ms, busy {s['busy_ms']:.1f}, idle {s['idle_ms']:.1f} "
          f"({s['gaps_over_50us']} gaps over 50 us: {s['idle_in_gaps_over_50us_ms']:.1f} ms)")
    for k in s["kernels"]:
        per = f" {k['per_ms']:8.3f} ms/{a.per}" if a.per else ""
        print(f"  {k['total_ms']:10.2f} ms{per} {k['count']:7d}x  {k['name']}")
    print("longest gaps:")
    for g in s["gaps"][:a.top]:
        print(f"  {g['idle_ms']:8.3f} ms  after {g['after']}  before {g['before']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"trace": a.trace, "segments_ms": [(x[-1][2] - x[0][1]) / 1e6 for x in segs],
                       "window": where, "per": a.per or None, **s}, f, indent=1)


if __name__ == "__main__":
    main()
