#!/bin/bash
# Instructions per echo call under callgrind (deterministic: the machine's load changes the wall time, not the
# count), for each echo-bench binary given, at each concurrency in CONCURRENCY (default "1 8"). For each binary and
# concurrency: a long run (DURATION s, default 30) and a short one (start-up and shutdown only), then
# callgrind-per-call.py on the pairs. Usage:
#   Benchmarks/Tools/callgrind-sitting.sh OUT_DIR name=/path/to/echo-bench [name2=/path/to/echo-bench ...]
# Callgrind serializes threads; it counts work, it does not time it. Calls have a 60 s deadline here so that
# valgrind's slowness never turns one into a deadline error.
set -eu
out=$1; shift
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
shim=$out/sigsuspend-shim.so
gcc -O2 -shared -fPIC -o "$shim" "$here/sigsuspend-shim.c"
for spec in "$@"; do
  name=${spec%%=*}; binary=${spec#*=}
  strip --strip-debug -o "$out/$name.bin" "$binary"   # valgrind 3.19 cannot read DWARF 5
  for c in ${CONCURRENCY:-1 8}; do
    for kind in long short; do
      if [ $kind = long ]; then w=1; d=${DURATION:-30}; else w=0.2; d=0.3; fi
      LD_PRELOAD=$shim valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$out/$name-c$c-$kind.out" \
        "$out/$name.bin" --role both --concurrency $c --warmup $w --duration $d --deadline-ms 60000 \
        > "$out/$name-c$c-$kind.txt" 2> "$out/$name-c$c-$kind.err" &
    done
  done
done
wait
for c in ${CONCURRENCY:-1 8}; do
  args=()
  for spec in "$@"; do name=${spec%%=*}; args+=("$out/$name-c$c-long.out" "$out/$name-c$c-short.out"); done
  echo "== c=$c: columns in the order given ($*)"
  python3 "$here/callgrind-per-call.py" "${args[@]}"
done | tee "$out/summary.txt"
