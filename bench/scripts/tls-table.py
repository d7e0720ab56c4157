#!/usr/bin/env python3
"""Markdown tables from the rounds of bench/scripts/tls-compare.sh.

Usage: bench/scripts/tls-table.py OUT_DIR
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
