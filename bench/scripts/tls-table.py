#!/usr/bin/env python3
"""Markdown tables from the rounds of bench/scripts/tls-compare.sh.

Usage: bench/scripts/tls-table.py OUT_DIR
Median ratios at the end: the issue's goal is reactor-tls / netty-nio-tls >= 1.0 in msgs/s and <= 1.0 in p99.
Each cell shows every round's figure, "·"-separated in round order; ratios are taken within
a round (impl / reactor-tls of the same round and setting), so drift between rounds cancels.
"""
import csv
import glob
import os
import sys

out = sys.argv[1]
rows = {}  # (scenario, size, connections, pipeline, impl) -> [row per round]
rounds = sorted({int(os.path.basename(d).split("-")[1]) for d in glob.glob(os.path.join(out, "round-*"))})
for r in rounds:
    for path in glob.glob(os.path.join(out, f"round-{r}*", "**", "results.csv"), recursive=True):
        for row in csv.DictReader(open(path)):
            key = (row["scenario"], int(row["size"]), int(row["connections"]), int(row["pipeline"]), row["impl"])
            rows.setdefault(key, {})[r] = row


def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def cells(key, field, scale=1.0, ratio=False):
    out_cells = []
    for r in rounds:
        row = rows.get(key, {}).get(r)
        if row is None or row[field] == "":
            out_cells.append("–")
            continue
        v = float(row[field]) * scale
        if ratio:
            base = rows.get(key[:4] + ("reactor-tls",), {}).get(r)
            b = float(base[field]) if base and base[field] else 0
            out_cells.append(f"{v / b:.2f}" if b > 0 else "–")
        else:
            out_cells.append(fmt(v))
    return " · ".join(out_cells)


def per_cpu(key):
    out_cells = []
    for r in rounds:
        row = rows.get(key, {}).get(r)
        if row is None or not row["server_cpu_s"] or float(row["server_cpu_s"]) <= 0:
            out_cells.append("–")
            continue
        out_cells.append(fmt(float(row["msgs_per_sec"]) * float(row["measured_s"]) / float(row["server_cpu_s"])))
    return " · ".join(out_cells)


settings = sorted({k[:4] for k in rows}, key=lambda k: (k[0] != "churn", k[1], k[3], k[2]))
impls = ["reactor-tls", "threads-tls", "netty-nio-tls"]
print("| setting | impl | msgs/s | × reactor-tls | p99 µs | × reactor-tls | server CPU s | generator CPU s | "
      "msgs per server CPU-s | errors |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for s in settings:
    scenario, size, conns, pipeline = s
    label = (f"churn (handshakes/s), {conns:,} concurrent" if scenario == "churn"
             else f"{'16 KiB' if size == 16384 else f'{size} B'} echo, {conns:,} conns × pipeline {pipeline}")
    for impl in impls:
        key = s + (impl,)
        if key not in rows:
            continue
        errors = " · ".join(rows[key][r]["errors"] if r in rows[key] else "–" for r in rounds)
        print(f"| {label} | {impl} | {cells(key, 'msgs_per_sec')} | {cells(key, 'msgs_per_sec', ratio=True)} | "
              f"{cells(key, 'p99_us')} | {cells(key, 'p99_us', ratio=True)} | {cells(key, 'server_cpu_s')} | "
              f"{cells(key, 'generator_cpu_s')} | {per_cpu(key)} | {errors} |")

# Summary: per setting, the median over rounds of reactor-tls / netty-nio-tls (the goal: >= 1.0 in
# msgs/s, <= 1.0 in p99) and of reactor-tls / threads-tls.
import statistics  # noqa: E402


def ratios(s, other, field):
    vals = []
    for r in rounds:
        a = rows.get(s + ("reactor-tls",), {}).get(r)
        b = rows.get(s + (other,), {}).get(r)
        if a and b and float(b[field]) > 0 and float(a[field]) > 0:
            vals.append(float(a[field]) / float(b[field]))
    return vals


def per_cpu_ratios(s, other):
    vals = []
    for r in rounds:
        a = rows.get(s + ("reactor-tls",), {}).get(r)
        b = rows.get(s + (other,), {}).get(r)

        def eff(x):
            return float(x["msgs_per_sec"]) * float(x["measured_s"]) / float(x["server_cpu_s"]) \
                if x and x["server_cpu_s"] and float(x["server_cpu_s"]) > 0 else 0
        if eff(a) > 0 and eff(b) > 0:
            vals.append(eff(a) / eff(b))
    return vals


def show(vals):
    return f"{statistics.median(vals):.2f} ({' · '.join(f'{v:.2f}' for v in vals)})" if vals else "–"


print()
print("| setting | reactor-tls ÷ netty-nio-tls: msgs/s | p99 | msgs per server CPU-s "
      "| reactor-tls ÷ threads-tls: msgs/s | p99 | msgs per server CPU-s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for s in settings:
    scenario, size, conns, pipeline = s
    label = (f"churn (handshakes/s), {conns:,} concurrent" if scenario == "churn"
             else f"{'16 KiB' if size == 16384 else f'{size} B'} echo, {conns:,} conns × pipeline {pipeline}")
    print(f"| {label} | {show(ratios(s, 'netty-nio-tls', 'msgs_per_sec'))} | {show(ratios(s, 'netty-nio-tls', 'p99_us'))} | "
          f"{show(per_cpu_ratios(s, 'netty-nio-tls'))} | "
          f"{show(ratios(s, 'threads-tls', 'msgs_per_sec'))} | {show(ratios(s, 'threads-tls', 'p99_us'))} | "
          f"{show(per_cpu_ratios(s, 'threads-tls'))} |")
