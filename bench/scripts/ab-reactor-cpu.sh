#!/usr/bin/env bash
# As ab-reactor.sh, but also reports the CPU time the server's event loop thread spends per
# message: on a shared machine, throughput moves with everyone else's load, while the loop's
# CPU time per message moves only with the code it runs. The loop thread's run time comes
# from /proc/PID/task/TID/schedstat (nanoseconds), sampled twice inside the measured window.
# Usage: bench/scripts/ab-reactor-cpu.sh OLD_BENCH_JAR NEW_BENCH_JAR [ROUNDS]
# Prints one line per run: label connections pipeline msgs_per_sec loop_cpu_share loop_cpu_ns_per_msg errors.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
read -r -a settings_list <<<"${AB_SETTINGS:-100x1 100x16 1000x16}"   # CONNECTIONSxPIPELINE
settings=("${settings_list[@]/x/ }")
loop_ns() { awk '{print $1}' "/proc/$1/task/$2/schedstat"; }
for setting in "${settings[@]}"; do
  read -r conns pipe <<<"$setting"
  for round in $(seq "$rounds"); do
    order="before after"; [ $((round % 2)) = 0 ] && order="after before"   # alternate who goes first
    for label in $order; do
      jar=$old; [ "$label" = after ] && jar=$new
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      taskset -c 0 java -jar "$jar" server --impl reactor --port "$port" >/dev/null 2>&1 &
      server=$!
      trap 'kill "$server" 2>/dev/null || true' EXIT
      for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
      tid=
      for _ in $(seq 600); do
        tid=$(for t in /proc/$server/task/*; do [ "$(cat "$t/comm" 2>/dev/null)" = reactor-loop ] && basename "$t"; done; true)
        [ -n "$tid" ] && break; sleep 0.1
      done
      out=$(mktemp)
      taskset -c 1 java -jar "$new" load --port "$port" --connections "$conns" --size 64 --pipeline "$pipe" \
            --duration 10s --warmup 3s >"$out" 2>/dev/null &
      load=$!
      sleep 6; a=$(loop_ns "$server" "$tid"); ta=$(date +%s%N)
      sleep 5; b=$(loop_ns "$server" "$tid"); tb=$(date +%s%N)
      wait "$load" || true
      kill "$server"; wait "$server" 2>/dev/null || true
      python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); share=(int(sys.argv[4])-int(sys.argv[3]))/(int(sys.argv[6])-int(sys.argv[5])); m=r["msgs_per_sec"]; print(sys.argv[2], r["connections"], r["pipeline"], round(m), round(share,3), round(share*1e9/m) if m else "-", r["errors"])' \
        "$out" "$label" "$a" "$b" "$ta" "$tb"
      rm -f "$out"
    done
  done
done
