#!/usr/bin/env bash
# Scale-out designs compared in one run, taking turns (A, B, B, A, ...) so that drift on a
# shared machine hits both alike; compare the ratios, not the absolute figures.
#  group: one reactor process with 2 loops, GroupAccept LISTENER_PER_LOOP vs HAND_OFF,
#         closed-loop throughput (CONNECTIONSxPIPELINE) and churn (connect, echo, close);
#  procs: "2 processes with SO_REUSEPORT" (bench server --reuse-port, 1 loop each) vs
#         "1 process, 2 loops" (the group default), throughput at 1,000 connections.
# Nothing is pinned: 2 loops need both CPUs of this machine, which the load generator shares.
# Usage: bench/scripts/scale-out.sh BENCH_JAR [ROUNDS]
# Prints one line per run: part label setting msgs_per_sec p99_us errors; then median ratios.
set -euo pipefail
jar=$1 rounds=${2:-3}
duration=${SCALE_DURATION:-8s} warmup=${SCALE_WARMUP:-2s}
read -r -a group_settings <<<"${SCALE_GROUP_SETTINGS:-100x1 1000x16 churn64}"
out=$(mktemp)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
await_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
load() { # port setting label part
  local args
  case $2 in
    churn*) args=(--churn --connections "${2#churn}") ;;
    *) args=(--connections "${2%x*}" --pipeline "${2#*x}") ;;
  esac
  row=$(java -jar "$jar" load --port "$1" --size 64 "${args[@]}" --duration "$duration" --warmup "$warmup" 2>/dev/null || true)
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], sys.argv[4], round(r["msgs_per_sec"]), r["p99_us"], r["errors"])' \
    "$row" "$4" "$3" "$2" | tee -a "$out"
}
run_servers() { # label -> starts the servers for it on $port, pids in $pids
  pids=()
  case $1 in
    listener-per-loop) java -jar "$jar" server --impl reactor --loops 2 --group-accept LISTENER_PER_LOOP --port "$port" >/dev/null 2>&1 & pids+=($!) ;;
    hand-off) java -jar "$jar" server --impl reactor --loops 2 --group-accept HAND_OFF --port "$port" >/dev/null 2>&1 & pids+=($!) ;;
    1-process-2-loops) java -jar "$jar" server --impl reactor --loops 2 --port "$port" >/dev/null 2>&1 & pids+=($!) ;;
    2-processes-reuseport)
      java -jar "$jar" server --impl reactor --reuse-port --port "$port" >/dev/null 2>&1 & pids+=($!)
      await_port "$port"
      java -jar "$jar" server --impl reactor --reuse-port --port "$port" >/dev/null 2>&1 & pids+=($!)
      sleep 2 ;;  # the second one's listening line goes to /dev/null: give its JVM time to bind
  esac
  await_port "$port"
}
stop_servers() { for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done; }
compare() { # part labelA labelB settings...
  local part=$1 a=$2 b=$3; shift 3
  for setting in "$@"; do
    for round in $(seq "$rounds"); do
      order="$a $b"; [ $((round % 2)) = 0 ] && order="$b $a"
      for label in $order; do
        port=$(free_port); run_servers "$label"; load "$port" "$setting" "$label" "$part"; stop_servers
      done
    done
  done
}
compare group listener-per-loop hand-off "${group_settings[@]}"
read -r -a procs_settings <<<"${SCALE_PROCS_SETTINGS-1000x16}"
if [ ${#procs_settings[@]} -gt 0 ]; then compare procs 2-processes-reuseport 1-process-2-loops "${procs_settings[@]}"; fi
python3 - "$out" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    part, label, setting, rate, p99, errors = line.split()
    runs[(part, setting, label)].append((float(rate), float(p99), int(errors)))
for (part, a, b) in [("group", "listener-per-loop", "hand-off"), ("procs", "2-processes-reuseport", "1-process-2-loops")]:
    for setting in sorted({s for (p, s, _) in runs if p == part}):
        ra, rb = runs[(part, setting, a)], runs[(part, setting, b)]
        pairs = [x[0] / y[0] for x, y in zip(ra, rb)]
        ma = statistics.median(r[0] for r in ra); mb = statistics.median(r[0] for r in rb)
        pa = statistics.median(r[1] for r in ra); pb = statistics.median(r[1] for r in rb)
        print(f"{part} {setting}: {a} {ma:,.0f} msgs/s p99 {pa:.0f}us | {b} {mb:,.0f} msgs/s p99 {pb:.0f}us"
              f" | ratio of medians {ma/mb:.2f}, per round " + " ".join(f"{p:.2f}" for p in pairs)
              + f" | errors {sum(r[2] for r in ra)}/{sum(r[2] for r in rb)}")
PY
