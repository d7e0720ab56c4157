#!/usr/bin/env bash
# The TLS table of bench/README.md: reactor-tls, threads-tls and netty-nio-tls through
# handshake churn, 64-byte echo (pipeline 1 and 16) and 16 KiB echo (pipeline 1) at 100
# and 1,000 connections, pinned (server on CPU 0, generator on CPU 1).
#
# On a shared machine the load of other processes changes from minute to minute, so the
# impls take turns setting by setting (one `compare` per impl and setting, a fresh server
# and generator each time), and the order of the turns rotates from round to round: round
# 1 reactor, threads, netty; round 2 threads, netty, reactor; round 3 netty, reactor, threads.
# Compare impls within a setting and a round; bench/scripts/tls-table.py does.
# Churn rows warm up longer (CHURN_WARMUP): at 1,000 concurrent handshakes one cycle takes
# seconds (concurrency / handshakes per second), and the JIT must first compile the crypto.
#
# Usage: bench/scripts/tls-compare.sh OUT_DIR [ROUNDS] [DURATION] [WARMUP] [CHURN_WARMUP]
# Writes OUT_DIR/round-R/SETTING/IMPL/ (compare's results.json, results.csv, report.md, logs).
set -euo pipefail
out=$1 rounds=${2:-3} duration=${3:-10s} warmup=${4:-5s} churn_warmup=${5:-10s}
jar=${BENCH_JAR:-bench/target/bench.jar}
impls=(reactor threads netty-nio)
# scenario:size:connections:pipeline
settings=(churn:64:100:1 churn:64:1000:1
          throughput:64:100:1 throughput:64:100:16 throughput:64:1000:1 throughput:64:1000:16
          throughput:16384:100:1 throughput:16384:1000:1)
for round in $(seq "$rounds"); do
  for setting in "${settings[@]}"; do
    IFS=: read -r scenario size conns pipeline <<<"$setting"
    wu=$warmup; [ "$scenario" = churn ] && wu=$churn_warmup
    for i in 0 1 2; do
      impl=${impls[$(( (i + round - 1) % 3 ))]}
      java -jar "$jar" compare --tls --pin --impls "$impl" --scenarios "$scenario" --connections "$conns" \
           --size "$size" --pipeline "$pipeline" --duration "$duration" --warmup "$wu" \
           --out "$out/round-$round/$scenario-$size-$conns-$pipeline/$impl-tls" 2>&1 | { grep 'compare: .*-tls [a-z]*: ' || true; }
    done
  done
done
