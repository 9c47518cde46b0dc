#!/usr/bin/env bash
# Issue #19's sitting, in one go, on a quiet machine: DeadlineRPC beside the raw-NIO floor and grpc-go.
#   echo      c=64 and c=1 in one process, rounds interleaved (floor, grpc-go, DeadlineRPC), REPEATS each
#   echo2p    c=1 across two processes (server and client apart), the same three stacks
#   cascade   cancel and deadline per hop (cascade-bench, 4 hops; one process, then each hop in its own process)
#             beside grpc-go's two-hop cancellation probe
#   storm     rpcbench's default storm beside grpc-go's storm (handlers yield after each slice, as ours do)
#   memory    bytes per in-flight call (inflight-bench, 10 000 calls)
#   burst     one burst of 1 000 cancels taken apart (burst-bench), with victims beside it
#   compress  the longest event-loop stall with 4 MiB gzip and identity messages (compress-bench)
# Every command is written to commands.txt beside its output; summary.txt has the medians and ratios.
#
#   Benchmarks/Tools/issue19-sitting.sh [OUT_DIR]     SECTIONS="echo cascade" REPEATS=5 DURATION=5 by default
#
# Needs: the floor (FLOOR=path to shared/peers' peer-nio), grpc-go (GOPEER=path to peer-grpc-go, built as its
# README says). SKIP_BUILD=1 uses the binaries already built. Each section waits for a quiet machine first.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-results/issue19-sitting-$(date -u +%Y%m%dT%H%M%SZ)}
REPEATS=${REPEATS:-5}
DURATION=${DURATION:-5}
SECTIONS=${SECTIONS:-"echo echo2p cascade storm memory burst compress"}
FLOOR=${FLOOR:?FLOOR=path to peer-nio}
GOPEER=${GOPEER:?GOPEER=path to peer-grpc-go}
RPCBENCH=${RPCBENCH:-.build/release/rpcbench}
B=${BENCH_BIN:-.build-benchmarks/release}
mkdir -p "$OUT"

if [ -z "${SKIP_BUILD:-}" ]; then
    # Release builds only; drop SwiftPM's cached plan of the benchmarks package (Benchmarks/README.md).
    rm -f .build-benchmarks/release.yaml
    swift build -c release --product rpcbench
    swift build -c release --package-path Benchmarks --scratch-path .build-benchmarks
fi

# Wait until the 1-minute load average is below 0.5 (nothing else running), at most QUIET_TIMEOUT s.
wait_quiet() {
    local deadline=$((SECONDS + ${QUIET_TIMEOUT:-600}))
    while awk '{ exit !($1 >= 0.5) }' /proc/loadavg; do
        ((SECONDS >= deadline)) && { echo "warning: load $(cut -d' ' -f1 /proc/loadavg), running anyway" | tee -a "$OUT/commands.txt" >&2; return 0; }
        sleep 5
    done
}

run() {
    local name=$1
    shift
    echo "$* # load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/commands.txt"
    echo "+ $*" >&2
    "$@" 2>&1 | tee -a "$OUT/$name.txt"
}

# A server in the background on PORT, a client against it, then the server stopped.
two_process() {
    local name=$1 port=$2
    shift 2
    local server=$1 client=$2
    $server --role server --port "$port" >/dev/null 2>&1 &
    local pid=$!
    sleep 1
    run "$name" $client --role client --port "$port" --concurrency 1 --warmup 1 --duration "$DURATION" || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

{
    echo "# issue #19 sitting $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores, $(git rev-parse --short HEAD)"
    uptime
} >"$OUT/commands.txt"

for section in $SECTIONS; do
    wait_quiet
    case $section in
    echo)
        for round in $(seq 1 "$REPEATS"); do
            for c in 64 1; do
                run "echo-c$c-floor" "$FLOOR" --role both --port 0 --concurrency "$c" --warmup 1 --duration "$DURATION"
                run "echo-c$c-grpcgo" "$GOPEER" --role both --port 0 --concurrency "$c" --warmup 1 --duration "$DURATION"
                run "echo-c$c-drpc" "$B/echo-bench" --role both --concurrency "$c" --warmup 1 --duration "$DURATION"
            done
        done
        ;;
    echo2p)
        for round in $(seq 1 "$REPEATS"); do
            two_process echo2p-floor 47101 "$FLOOR" "$FLOOR"
            two_process echo2p-grpcgo 47102 "$GOPEER" "$GOPEER"
            two_process echo2p-drpc 47103 "$B/echo-bench" "$B/echo-bench"
        done
        ;;
    cascade)
        run cascade-c1 "$B/cascade-bench" --calls 500 --concurrency 1
        run cascade-c1 "$B/cascade-bench" --calls 500 --concurrency 1
        # The deployed shape: each hop in a process of its own (no loops or pool shared between hops).
        run cascade-processes "$B/cascade-bench" --processes --calls 500 --concurrency 1
        run cascade-processes "$B/cascade-bench" --processes --calls 500 --concurrency 1
        run grpcgo-cancel "$GOPEER" --scenario cancel --cases unary-cancel,unary-deadline,two-hop-cancel,two-hop-deadline
        ;;
    storm)
        for round in 1 2; do
            run rpcbench "$RPCBENCH" run --quiet --results "$OUT/rpcbench-$round"
            run grpcgo-storm "$GOPEER" --scenario storm --yield
        done
        ;;
    memory)
        run inflight "$B/inflight-bench" --calls 10000 --rounds 2
        ;;
    burst)
        run burst "$B/burst-bench" --window 40 --rounds 20
        ;;
    compress)
        run compress-gzip "$B/compress-bench"
        run compress-identity "$B/compress-bench" --encoding identity
        ;;
    *) echo "unknown section $section" >&2; exit 64 ;;
    esac
done

# Medians and ratios for the echo sections.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { grep -o "\"\?$1\"\?[=:][0-9.]*" | sed 's/.*[=:]//'; }
{
    for c in 64 1; do
        [ -f "$OUT/echo-c$c-drpc.txt" ] || continue
        f=$(field qps <"$OUT/echo-c$c-floor.txt" | median)
        g=$(field qps <"$OUT/echo-c$c-grpcgo.txt" | median)
        d=$(field qps <"$OUT/echo-c$c-drpc.txt" | median)
        fp=$(field p50_us <"$OUT/echo-c$c-floor.txt" | median)
        gp=$(field p50_us <"$OUT/echo-c$c-grpcgo.txt" | median)
        dp=$(field p50_us <"$OUT/echo-c$c-drpc.txt" | median)
        awk -v c="$c" -v f="$f" -v g="$g" -v d="$d" -v fp="$fp" -v gp="$gp" -v dp="$dp" 'BEGIN {
            printf "echo c=%s, one process (medians): qps floor %d, grpc-go %d (%.2fx floor), DeadlineRPC %d (%.2fx floor); p50 µs floor %s, grpc-go %s (%.2fx), DeadlineRPC %s (%.2fx)\n", c, f, g, g / f, d, d / f, fp, gp, gp / fp, dp, dp / fp }'
    done
    if [ -f "$OUT/echo2p-drpc.txt" ]; then
        fp=$(field p50_us <"$OUT/echo2p-floor.txt" | median)
        gp=$(field p50_us <"$OUT/echo2p-grpcgo.txt" | median)
        dp=$(field p50_us <"$OUT/echo2p-drpc.txt" | median)
        awk -v fp="$fp" -v gp="$gp" -v dp="$dp" 'BEGIN {
            printf "echo c=1, two processes (medians): p50 µs floor %s, grpc-go %s (%.2fx), DeadlineRPC %s (%.2fx)\n", fp, gp, gp / fp, dp, dp / fp }'
    fi
    echo "cascade, storm, memory, burst, compress: see their .txt files in $OUT"
} | tee "$OUT/summary.txt"
echo "Sitting: $OUT/ (summary.txt, commands.txt, one .txt per command)"
