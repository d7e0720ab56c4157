#!/usr/bin/env bash
# The TLS table of bench/README.md: reactor-tls, threads-tls and netty-nio-tls through
# handshake churn, 64-byte echo (pipeline 1 and 16) and 16 KiB echo (pipeline 1) at 100
# and 1,000 connections, pinned (servers on CPU 0, generator on CPU 1). On a shared
# machine drift is what hurts most, so each of ROUNDS rounds runs every impl, and the
# order of the impls is reversed from one round to the next.
# Churn rows warm up longer (CHURN_WARMUP): at 1,000 concurrent handshakes one cycle takes
# seconds (concurrency / handshakes per second), and the JIT must first compile the crypto.
# Usage: bench/scripts/tls-compare.sh OUT_DIR [ROUNDS] [DURATION] [WARMUP] [CHURN_WARMUP]
# Writes OUT_DIR/round-N-{churn,64,16k}/ (compare's results.json, results.csv, report.md).
set -euo pipefail
out=$1 rounds=${2:-2} duration=${3:-10s} warmup=${4:-3s} churn_warmup=${5:-10s}
jar=${BENCH_JAR:-bench/target/bench.jar}
for round in $(seq "$rounds"); do
  impls=reactor,threads,netty-nio
  [ $((round % 2)) = 0 ] && impls=netty-nio,threads,reactor   # alternate who goes first
  java -jar "$jar" compare --tls --pin --impls "$impls" --scenarios churn \
       --connections 100,1000 --size 64 --duration "$duration" --warmup "$churn_warmup" \
       --out "$out/round-$round-churn"
  java -jar "$jar" compare --tls --pin --impls "$impls" --scenarios throughput \
       --connections 100,1000 --size 64 --pipeline 1,16 --duration "$duration" --warmup "$warmup" \
       --out "$out/round-$round-64"
  java -jar "$jar" compare --tls --pin --impls "$impls" --scenarios throughput \
       --connections 100,1000 --size 16384 --pipeline 1 --duration "$duration" --warmup "$warmup" \
       --out "$out/round-$round-16k"
done
