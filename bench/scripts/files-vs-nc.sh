#!/usr/bin/env bash
# Times a 1 GiB transfer each way over loopback: `echo-demo files put/get` against nc, the
# practical limit (`cat FILE | nc` into `nc -l > FILE`). Rounds alternate which goes first.
# Wall-clock time of each command as a user runs it (our client's JVM start-up included).
# Our transfers fsync the received file before they report success; plain nc does not, so
# each nc run is also timed with `sync FILE` after it: the same durability.
#
#   bench/scripts/files-vs-nc.sh [ROUNDS] [SIZE_MIB]      (after: mvn -B -DskipTests package)
#
# Server pinned to CPU 0 and clients to CPU 1 (taskset), like the other bench figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
SIZE_MIB=${2:-1024}
JAR=echo-demo/target/echo-demo.jar
WORK=$(mktemp -d "${TMPDIR:-/tmp}/files-vs-nc.XXXXXX")
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root" "$WORK/local"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/local/src.bin"
cp "$WORK/local/src.bin" "$WORK/root/src.bin"

taskset -c 0 java -jar $JAR files serve --root "$WORK/root" --port 0 > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER=$!
until grep -q '^listening on' "$WORK/server.out" 2>/dev/null; do sleep 0.1; done
PORT=$(sed -n 's/^listening on tcp:\/\/.*://p' "$WORK/server.out")

now() { date +%s.%N; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secs() { echo "$2 - $1" | bc; }

ours_put() {
  rm -f "$WORK/root/up.bin"
  local t0; t0=$(now)
  taskset -c 1 java -jar $JAR files put "$WORK/local/src.bin" up.bin --port "$PORT" > /dev/null 2>&1
  secs "$t0" "$(now)"
}
ours_get() {
  rm -f "$WORK/local/down.bin"
  local t0; t0=$(now)
  taskset -c 1 java -jar $JAR files get src.bin "$WORK/local/down.bin" --port "$PORT" > /dev/null 2>&1
  secs "$t0" "$(now)"
}
# nc upload: the receiver (server side, CPU 0) writes the file.  $1 = sync or nosync
nc_put() {
  rm -f "$WORK/root/nc-up.bin"
  local p; p=$(freeport)
  taskset -c 0 nc -l 127.0.0.1 $p > "$WORK/root/nc-up.bin" &
  local rx=$!
  sleep 0.2
  local t0; t0=$(now)
  taskset -c 1 sh -c "cat '$WORK/local/src.bin' | nc -N 127.0.0.1 $p"
  wait $rx
  [ "$1" = sync ] && sync "$WORK/root/nc-up.bin"
  secs "$t0" "$(now)"
}
# nc download: the receiver (client side, CPU 1) writes the file.
nc_get() {
  rm -f "$WORK/local/nc-down.bin"
  local p; p=$(freeport)
  taskset -c 0 sh -c "nc -N -l 127.0.0.1 $p < '$WORK/root/src.bin'" &
  local tx=$!
  sleep 0.2
  local t0; t0=$(now)
  taskset -c 1 nc -d 127.0.0.1 $p > "$WORK/local/nc-down.bin"
  [ "$1" = sync ] && sync "$WORK/local/nc-down.bin"
  wait $tx
  secs "$t0" "$(now)"
}

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)  size: ${SIZE_MIB} MiB  load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-9s %10s %10s %10s %14s %14s\n' round direction ours_s nc_s nc+sync_s ratio_vs_nc ratio_vs_sync
for round in $(seq 1 "$ROUNDS"); do
  for direction in upload download; do
    if [ $((round % 2)) = 1 ]; then
      if [ $direction = upload ]; then o=$(ours_put); n=$(nc_put nosync); s=$(nc_put sync); else o=$(ours_get); n=$(nc_get nosync); s=$(nc_get sync); fi
    else
      if [ $direction = upload ]; then s=$(nc_put sync); n=$(nc_put nosync); o=$(ours_put); else s=$(nc_get sync); n=$(nc_get nosync); o=$(ours_get); fi
    fi
    printf '%-6s %-9s %10.2f %10.2f %10.2f %14.2f %14.2f\n' "$round" "$direction" "$o" "$n" "$s" \
      "$(echo "$n / $o" | bc -l)" "$(echo "$s / $o" | bc -l)"
  done
done
cmp "$WORK/local/src.bin" "$WORK/root/up.bin" && cmp "$WORK/local/src.bin" "$WORK/local/down.bin" && echo "all copies identical"
