#!/usr/bin/env bash
# The echo demo under bench load: scrape /metrics twice, 4 s apart, and compare the loop's
# busy ratio with its thread's CPU share as /proc counts it.
# Usage: bench/scripts/busy-vs-cpu.sh ECHO_DEMO_JAR BENCH_JAR [CONNECTIONS] [PIPELINE]
set -euo pipefail
tmp=$(mktemp -d)
demo=$1 bench=$2 conns=${3:-100} pipe=${4:-1}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 java -jar "$demo" --port "$port" --metrics-port "$mport" > "$tmp/demo.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; kill ${load:-} 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "metrics on" "$tmp/demo.out" 2>/dev/null && break; sleep 0.1; done
taskset -c 1 java -jar "$bench" load --port "$port" --connections "$conns" --size 64 --pipeline "$pipe" --duration 12s --warmup 2s > "$tmp/load.json" 2>/dev/null &
load=$!
sleep 6
tid=$(for t in /proc/$pid/task/*; do [ "$(cat $t/comm)" = "echo-loop-0" ] && basename $t; done; true)
ticks() { awk '{print $14+$15}' /proc/$pid/task/$tid/stat; }
proc_ticks() { awk '{print $14+$15}' /proc/$pid/stat; }
a=$(ticks); pa=$(proc_ticks); t0=$(date +%s.%N)
curl -s "http://127.0.0.1:$mport/metrics" > "$tmp/scrape1.txt"
sleep 4
b=$(ticks); pb=$(proc_ticks); t1=$(date +%s.%N)
curl -s "http://127.0.0.1:$mport/metrics" > "$tmp/scrape2.txt"
python3 - "$a" "$b" "$pa" "$pb" "$t0" "$t1" "$tmp/scrape1.txt" "$tmp/scrape2.txt" <<'PY'
import sys, re
a,b,pa,pb,t0,t1 = map(float, sys.argv[1:7])
wall=t1-t0; hz=100.0
def val(f, name):
    for l in open(f):
        if l.startswith(name+'{'): return float(l.split()[-1])
s1,s2=sys.argv[7],sys.argv[8]
busy=(val(s2,'selectloop_loop_busy_seconds_total')-val(s1,'selectloop_loop_busy_seconds_total'))
idle=(val(s2,'selectloop_loop_idle_seconds_total')-val(s1,'selectloop_loop_idle_seconds_total'))
print("loop thread CPU share over %.1f s: %.2f (process %.2f CPUs)" % (wall, (b-a)/hz/wall, (pb-pa)/hz/wall))
print("busy_seconds delta / (busy+idle) over the same scrapes: %.2f" % (busy/(busy+idle)))
print("selectloop_loop_busy_ratio at the 2nd scrape: %.2f" % val(s2,'selectloop_loop_busy_ratio'))
cpu=(val(s2,'selectloop_loop_thread_cpu_seconds_total')-val(s1,'selectloop_loop_thread_cpu_seconds_total'))
print("thread_cpu_seconds delta / wall between scrapes: %.2f" % (cpu/(busy+idle)))
print("bytes_read delta %.0f, accepted %.0f, open %.0f" % (val(s2,'selectloop_bytes_read_total')-val(s1,'selectloop_bytes_read_total'), val(s2,'selectloop_connections_accepted_total'), val(s2,'selectloop_connections_open')))
PY
wait $load || true
kill $pid; wait $pid 2>/dev/null || true
