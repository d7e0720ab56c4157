#!/usr/bin/env bash
# A restart of the echo demo under connection churn, where the accept queue matters: demo A
# (--reuse-port) serves `bench load --churn`; demo B starts on the same port, A gets SIGTERM,
# B serves on. Prints the load's errors with net.ipv4.tcp_migrate_req as it is now (set it
# first: 0 resets what is queued on A's listener when it closes, 1 moves it to B).
# Usage: bench/scripts/restart-churn.sh ECHO_DEMO_JAR BENCH_JAR [RESTARTS]
set -euo pipefail
demo=$1 bench=$2 restarts=${3:-5}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_demo() { java -jar "$demo" --port "$port" --reuse-port --shutdown-timeout 10 >/dev/null 2>&1 & echo $!; }
await_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.05; done; }
old=$(start_demo); await_port
java -jar "$bench" load --port "$port" --churn --connections 32 --warmup 1s --duration $((restarts * 4 + 4))s \
  --reconnect >/tmp/restart-churn.json 2>/tmp/restart-churn.log &
load=$!
sleep 3
for _ in $(seq "$restarts"); do
  new=$(start_demo); sleep 2   # its JVM binds within this on an idle machine; the port answers either way
  kill -TERM "$old"; while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
  old=$new; sleep 2
done
wait "$load" || true
kill -TERM "$old"; while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
python3 -c 'import json; r=json.load(open("/tmp/restart-churn.json")); print("tcp_migrate_req", open("/proc/sys/net/ipv4/tcp_migrate_req").read().strip(), "restarts", '"$restarts"', "cycles/s", round(r["msgs_per_sec"]), "errors", r["errors"], "reconnects", r.get("reconnects"))'
grep "error:" /tmp/restart-churn.log | head -3 || true
