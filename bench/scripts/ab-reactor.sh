#!/usr/bin/env bash
# A/B of two builds of the reactor echo server in one run: for each setting, the
# servers take turns (A, B, A, B, ...), each pinned to CPU 0 with the load generator
# (always the same jar, B's) on CPU 1, so drift on a shared machine hits both alike.
# Usage: bench/scripts/ab-reactor.sh OLD_BENCH_JAR NEW_BENCH_JAR [ROUNDS]
# Prints one line per run: label connections pipeline msgs_per_sec p99_us errors.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
read -r -a settings_list <<<"${AB_SETTINGS:-100x1 100x16 1000x16}"   # CONNECTIONSxPIPELINE
settings=("${settings_list[@]/x/ }")
for setting in "${settings[@]}"; do
  read -r conns pipe <<<"$setting"
  for round in $(seq "$rounds"); do
    order="before after"; [ $((round % 2)) = 0 ] && order="after before"   # alternate who goes first
    for label in $order; do
      jar=$old; [ "$label" = after ] && jar=$new
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      taskset -c 0 java -jar "$jar" server --impl reactor --port "$port" >/dev/null 2>&1 &
      server=$!
      for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
      row=$(taskset -c 1 java -jar "$new" load --port "$port" --connections "$conns" --size 64 --pipeline "$pipe" \
            --duration 10s --warmup 3s 2>/dev/null || true)
      kill "$server"; wait "$server" 2>/dev/null || true
      python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], r["connections"], r["pipeline"], round(r["msgs_per_sec"]), r["p99_us"], r["errors"])' \
        "$row" "$label"
    done
  done
done
