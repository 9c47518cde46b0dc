#!/usr/bin/env bash
# One sitting, one command: DeadlineRPC (rpcbench), grpc-swift-2 (peer-storm, as users write handlers and with
# the RPC-cancellation handle bridged to the task) and the raw NIO floor (../shared/peers' peer-nio, victims only),
# the same victims and storm, then one side-by-side table (text + Markdown for docs/PERFORMANCE.md), JSON and plot.
#
#   Benchmarks/PeerStorm/compare.sh                      # the defaults of rpcbench: 2,000/s victims, default storm
#   Benchmarks/PeerStorm/compare.sh --duration 10s       # any flag rpcbench and peer-storm share goes to both
#   SMOKE=1 Benchmarks/PeerStorm/compare.sh              # a few seconds at tiny rates: checks the plumbing only
#
# Environment: OUT (results folder), PEERS_SRC (../shared/peers), PEERS_BIN (where peer-nio is, built if missing),
# GRPC_VARIANTS ("task rpc-handle"), SWEEP_RATES ("10 20 50" cancels/s; empty skips the sweep), SWEEP_DURATION
# (35s per rate: swift-nio-http2 counts stream resets over 30 s windows), QUIET_TIMEOUT (longest wait for a quiet machine, s), FOREIGN_MAX (CPU seconds
# other processes may use during a run before it is flagged), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-results/peerstorm-$(date -u +%Y%m%dT%H%M%SZ)}
PEERS_SRC=${PEERS_SRC:-../shared/peers}
PEERS_BIN=${PEERS_BIN:-.build-peers/release}
GRPC_VARIANTS=${GRPC_VARIANTS:-"task rpc-handle"}
SWEEP_RATES=${SWEEP_RATES-"10 20 50"}
SWEEP_DURATION=${SWEEP_DURATION:-35s}
FOREIGN_MAX=${FOREIGN_MAX:-1.0}
TICK=$(getconf CLK_TCK)
WORKLOAD=("$@")
mkdir -p "$OUT"

# The floor runs the victims' load only: read rate, payload, warm-up and phase length from the shared flags.
flag() { # flag NAME DEFAULT: the value of --NAME in the workload flags
  local name=$1 value=$2 i
  for ((i = 0; i < ${#WORKLOAD[@]}; i++)); do
    case ${WORKLOAD[i]} in
    --$name=*) value=${WORKLOAD[i]#*=} ;;
    --$name) value=${WORKLOAD[i + 1]:-$value} ;;
    esac
  done
  echo "$value"
}
seconds() { # 6s, 500ms, 2 -> seconds
  awk -v d="$1" 'BEGIN { n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
    f = (u == "ms") ? 1e-3 : (u == "us" || u == "µs") ? 1e-6 : (u == "ns") ? 1e-9 : (u == "m") ? 60 : 1
    printf "%g", n * f }'
}
RATE=$(flag rate 2000)
PAYLOAD=$(flag payload 64)
DURATION=$(seconds "$(flag duration 6s)")
WARMUP=$(seconds "$(flag warmup 2s)")
if [[ -n ${SMOKE:-} ]]; then # peer-storm --smoke's settings, spelled out for both tools
  WORKLOAD+=(--rate 200 --max-inflight 100 --warmup 300ms --duration 1s --drain-timeout 5s --cancel-rate 10
    --deadline-rate 10 --burst-size 50 --burst-interval 500ms --burst-ramp 20ms --disconnect-interval 500ms
    --disconnect-calls 5 --chain-rate 10 --cancel-after 10ms --short-budget 10ms --chain-cancel-after 10ms
    --chain-budget 10ms --storm-work 40ms)
  RATE=200 DURATION=1 WARMUP=0.3
  SWEEP_RATES=${SWEEP_RATES:+20} SWEEP_DURATION=2s
fi

if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "== building (release)" >&2
  # rpcbench comes from the root package, built as PeerStorm's dependency in the same scratch folder: one release
  # build of NIO, DeadlineRPC and RPCBenchCore serves both tools.
  swift build -c release --package-path Benchmarks/PeerStorm --scratch-path .build-peerstorm
  swift build -c release --package-path Benchmarks/PeerStorm --scratch-path .build-peerstorm --product rpcbench
  if [[ ! -x $PEERS_BIN/peer-nio ]]; then
    [[ -d .build-peers-src ]] || cp -r "$PEERS_SRC" .build-peers-src
    swift build -c release --package-path .build-peers-src --scratch-path .build-peers --product peer-nio
    PEERS_BIN=.build-peers/release
  fi
fi

# CPU ticks used by every process outside this script's process tree (what other work took from the machine).
others_ticks() {
  awk -v root="$$" '
    FNR == 1 {
      pid = FILENAME; gsub(/[^0-9]/, "", pid)
      rest = $0; sub(/.*\) /, "", rest); split(rest, f, " ")
      ppid[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]
    }
    END {
      for (p in ticks) { q = p; while (q != root && q in ppid && q > 1) q = ppid[q]; if (q != root) sum += ticks[p] }
      print sum + 0
    }' /proc/[0-9]*/stat 2>/dev/null
}
# Waits until other processes used under 10% of one core for 2 s (at most QUIET_TIMEOUT s).
wait_quiet() {
  local deadline=$((SECONDS + ${QUIET_TIMEOUT:-1800})) a b
  while :; do
    a=$(others_ticks); sleep 2; b=$(others_ticks)
    ((b - a <= TICK / 5)) && return 0
    ((SECONDS >= deadline)) && { echo "warning: machine still busy, running anyway" >&2; return 0; }
    echo "machine busy ($((b - a)) ticks/2s from other processes), waiting" >&2
    sleep 10
  done
}
# measure NAME COMMAND...: waits for a quiet machine, runs COMMAND with its output in $OUT/NAME.txt, and notes the
# CPU other processes used meanwhile in $OUT/foreign-cpu.txt (a run above FOREIGN_MAX s is flagged, not retried).
measure() {
  local name=$1 before after foreign
  shift
  wait_quiet
  echo "== $name" >&2
  before=$(others_ticks)
  "$@" >"$OUT/$name.txt"
  after=$(others_ticks)
  foreign=$(awk -v a="$after" -v b="$before" -v t="$TICK" 'BEGIN { printf "%.2f", (a - b) / t }')
  echo "$name $foreign" >>"$OUT/foreign-cpu.txt"
  if awk -v f="$foreign" -v m="$FOREIGN_MAX" 'BEGIN { exit !(f > m) }'; then
    echo "warning: other processes used $foreign CPU s during $name: its figures are contaminated" >&2
  fi
}
results_of() { sed -n 's/^Results: \([^ ]*\)\/ .*/\1/p' "$OUT/$1.txt"; }

measure deadlinerpc .build-peerstorm/release/rpcbench --quiet --results "$OUT/runs" "${WORKLOAD[@]}"
REPORTS=(--report "DeadlineRPC=$(results_of deadlinerpc)/report.json")
for variant in $GRPC_VARIANTS; do
  measure "grpc-$variant" .build-peerstorm/release/peer-storm --quiet --results "$OUT/runs" \
    --handler-cancellation "$variant" "${WORKLOAD[@]}"
  label=grpc-swift-2
  [[ $variant == task ]] || label="grpc-swift-2 ($variant)"
  REPORTS+=(--report "$label=$(results_of "grpc-$variant")/report.json")
done
timelog=$(mktemp)
measure floor-run /usr/bin/time -v -o "$timelog" "$PEERS_BIN/peer-nio" --role both --port 0 --rate "$RATE" \
  --payload "$PAYLOAD" --warmup "$WARMUP" --duration "$DURATION"
rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$timelog")
rm -f "$timelog"
grep '^{' "$OUT/floor-run.txt" | tail -1 | jq -c --argjson rss "$rss" '. + {rss_kb: $rss}' >"$OUT/floor.json"

if [[ -n $SWEEP_RATES ]]; then
  # shellcheck disable=SC2086 # one argument per rate
  measure sweep .build-peerstorm/release/peer-storm sweep --rates $SWEEP_RATES --duration "$SWEEP_DURATION" \
    --victim-rate "$RATE" --out "$OUT"
fi

.build-peerstorm/release/peer-storm compare "${REPORTS[@]}" --floor "$OUT/floor.json" --out "$OUT"
if [[ -f $OUT/sweep.md ]]; then
  echo
  echo "grpc-swift-2, victims beside cancels only on their shared connection, one rate at a time ($OUT/sweep.md):"
  cat "$OUT/sweep.md"
fi
echo
echo "Foreign CPU seconds per run (other processes; above $FOREIGN_MAX the run is contaminated):"
cat "$OUT/foreign-cpu.txt"
