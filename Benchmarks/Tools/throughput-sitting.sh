#!/bin/bash
# Issue #19 goal 4 in one sitting, rounds interleaved: the raw-NIO floor and each echo-bench binary given, at c=64
# (QPS and CPU per call), c=1 in one process (p50) and c=1 in two processes (p50). Run on a quiet machine:
#   Benchmarks/Tools/throughput-sitting.sh OUT_DIR name=/path/to/echo-bench [name2=/path/to/echo-bench ...]
# ROUNDS (5), DURATION (5 s), FLOOR (/work/.build-peers/release/peer-nio). Writes every command and its output to
# OUT_DIR/log.txt and one line per run to OUT_DIR/runs.txt; prints the medians and the ratios to the floor.
set -u
out=$1; shift
mkdir -p "$out"
floor=${FLOOR:-/work/.build-peers/release/peer-nio}
rounds=${ROUNDS:-5}; duration=${DURATION:-5}
: > "$out/runs.txt"
run() {  # name shape command...
  local name=$1 shape=$2; shift 2
  echo "\$ $*" >> "$out/log.txt"
  local output; output=$("$@" 2>&1); echo "$output" >> "$out/log.txt"
  local qps p50 cpu
  qps=$(echo "$output" | grep -o '"qps":[0-9.]*\|qps=[0-9.]*' | head -1 | grep -o '[0-9.]*$')
  p50=$(echo "$output" | grep -o '"p50_us":[0-9]*\|p50_us=[0-9]*' | head -1 | grep -o '[0-9]*$')
  cpu=$(echo "$output" | grep -o 'cpu_s=[0-9.]*' | grep -o '[0-9.]*$')
  echo "$name $shape qps=${qps:-0} p50_us=${p50:-0} cpu_s=${cpu:-} load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/runs.txt"
}
two_process() {  # name binary port: server and client in separate processes, c=1
  local name=$1 binary=$2 port=$3
  "$binary" --role server --port $port > /dev/null 2>&1 &
  local server=$!
  sleep 1
  run "$name" c1-2proc "$binary" --role client --port $port --concurrency 1 --warmup 1 --duration $duration
  kill $server; wait $server 2>/dev/null
}
for r in $(seq 1 $rounds); do
  run floor c64 "$floor" --role both --port 0 --concurrency 64 --warmup 1 --duration $duration
  for spec in "$@"; do run "${spec%%=*}" c64 "${spec#*=}" --role both --concurrency 64 --warmup 1 --duration $duration; done
  run floor c1 "$floor" --role both --port 0 --concurrency 1 --warmup 1 --duration $duration
  for spec in "$@"; do run "${spec%%=*}" c1 "${spec#*=}" --role both --concurrency 1 --warmup 1 --duration $duration; done
  two_process floor "$floor" 19401
  for spec in "$@"; do two_process "${spec%%=*}" "${spec#*=}" 19402; done
done
python3 - "$out/runs.txt" "$duration" <<'PY' | tee "$out/summary.txt"
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    fields = dict(p.split('=', 1) for p in parts[2:])
    runs[(parts[0], parts[1])].append(fields)
names = []
for name, _ in runs:
    if name not in names: names.append(name)
def med(name, shape, key):
    values = [float(f[key]) for f in runs.get((name, shape), []) if f.get(key)]
    return statistics.median(values) if values else None
floor_qps = med('floor', 'c64', 'qps'); floor_c1 = med('floor', 'c1', 'p50_us'); floor_2p = med('floor', 'c1-2proc', 'p50_us')
for name in names:
    qps = med(name, 'c64', 'qps'); c1 = med(name, 'c1', 'p50_us'); c2 = med(name, 'c1-2proc', 'p50_us')
    # CPU per call: the process's CPU over warm-up (1 s) and measurement, over the calls of both (QPS x time).
    cpus = [float(f['cpu_s']) * 1e6 / (float(f['qps']) * (1 + float(sys.argv[2]))) for f in runs.get((name, 'c64'), []) if f.get('cpu_s') and float(f['qps']) > 0]
    line = f'{name:>8}: c=64 median {qps:,.0f} QPS ({qps / floor_qps:.2f}x the floor, goal 0.6x)' if qps else f'{name}:'
    if cpus: line += f', CPU {statistics.median(cpus):.1f} us per call'
    if c1: line += f'; c=1 p50 {c1:.0f} us ({c1 / floor_c1:.2f}x, goal 1.2x)'
    if c2: line += f'; two processes c=1 p50 {c2:.0f} us ({c2 / floor_2p:.2f}x, goal 1.1x)'
    print(line)
PY
