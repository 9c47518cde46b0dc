#!/usr/bin/env bash
# The TLS sitting of issue #17, in one go, on a quiet machine: echo c=1 and c=64 over plaintext and TLS (runs
# interleaved, REPEATS times each), the cost of a full handshake (one at a time and 64 at once, beside bare TCP
# connects), a legitimate client's p50/p99 while 500 handshakes and 100 trickled ClientHellos flood the server,
# and rpcbench's storm over plaintext and TLS side by side. Every command is echoed into commands.txt beside its
# output; summary.txt has the medians and the goal check (TLS keeps at least 75% of plaintext's c=64 throughput).
#
#   Benchmarks/Tools/tls-sitting.sh [OUT_DIR]          (from anywhere; REPEATS=3 DURATION=10 by default)
#
# SKIP_BUILD=1 uses the binaries already built; RPCBENCH=path picks another rpcbench (both for trying the script).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-results/tls-sitting-$(date -u +%Y%m%dT%H%M%SZ)}
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-10}
RPCBENCH=${RPCBENCH:-.build/release/rpcbench}
mkdir -p "$OUT"

# Release builds only (a debug build misstates every figure). The root gained a target (ThrowawayPKI) that the
# benchmarks reach through their path dependency: drop SwiftPM's cached build plan so it is seen (Benchmarks/README.md).
if [ -z "${SKIP_BUILD:-}" ]; then
    rm -f .build-benchmarks/release.yaml .build-benchmarks/x86_64-unknown-linux-gnu/release/description.json
    swift build -c release --product rpcbench
    swift build -c release --package-path Benchmarks --scratch-path .build-benchmarks
fi
B=.build-benchmarks/release

run() {
    local name=$1
    shift
    echo "$*" >>"$OUT/commands.txt"
    echo "+ $*" >&2
    "$@" 2>&1 | tee -a "$OUT/$name.txt"
}

{
    echo "# TLS sitting $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores, $(git rev-parse --short HEAD)"
    uptime
} >"$OUT/commands.txt"

for round in $(seq 1 "$REPEATS"); do
    for c in 1 64; do
        run "echo-c$c-plaintext" "$B/echo-bench" --role both --concurrency "$c" --warmup 2 --duration "$DURATION"
        run "echo-c$c-tls" "$B/echo-bench" --role both --concurrency "$c" --warmup 2 --duration "$DURATION" --tls
    done
done
run handshakes "$B/tls-bench" handshakes --count 2000 --concurrency 64
# 15 s phases: past the server's 10 s preface timeout, so the trickling connections are closed (and reopened) mid-flood.
run flood "$B/tls-bench" flood --handshakes 500 --trickle 100 --duration 15
run rpcbench "$RPCBENCH" run --transport both --quiet --results "$OUT/rpcbench"

# Medians of qps and p99 per echo configuration, and the goal check.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { grep -o "$1=[0-9]*" | cut -d= -f2; }
{
    echo "echo (medians of $REPEATS runs, ${DURATION}s each)"
    for c in 1 64; do
        for t in plaintext tls; do
            f="$OUT/echo-c$c-$t.txt"
            echo "  c=$c $t: qps $(field qps <"$f" | median)  p50 $(field p50_us <"$f" | median) µs  p99 $(field p99_us <"$f" | median) µs"
        done
    done
    plain=$(field qps <"$OUT/echo-c64-plaintext.txt" | median)
    tls=$(field qps <"$OUT/echo-c64-tls.txt" | median)
    awk -v p="$plain" -v t="$tls" 'BEGIN { r = (p > 0) ? t / p : 0; printf "  c=64 TLS/plaintext throughput: %.2f (goal: at least 0.75, i.e. TLS costs at most 25%%) -> %s\n", r, (r >= 0.75 ? "met" : "MISSED") }'
    echo
    echo "handshakes"
    sed 's/^/  /' "$OUT/handshakes.txt"
    echo
    echo "flood"
    sed 's/^/  /' "$OUT/flood.txt"
    echo
    echo "rpcbench: see the side-by-side table at the end of $OUT/rpcbench.txt"
} | tee "$OUT/summary.txt"
echo "Sitting: $OUT/ (summary.txt, commands.txt, one .txt per command)"
