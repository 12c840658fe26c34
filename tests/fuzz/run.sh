#!/usr/bin/env bash
# run.sh SECONDS — builds the libFuzzer targets (clang, into build/fuzz/ unless
# KITH_FUZZ_BUILD names another folder) if needed, then runs every fuzz_* target
# for SECONDS (default 60) on its seed corpus in tests/fuzz/corpus/NAME/.
# New inputs go to a scratch folder, so the committed corpus is left as it is;
# NAME.dict beside a target, if any, is its libFuzzer dictionary.
# Exits non-zero if any target crashes, leaks or times out; the input that did it
# is kept in BUILD/fuzz-artifacts/NAME/ and its path printed.
set -euo pipefail

secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 64 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${KITH_FUZZ_BUILD:-$root/build/fuzz}

scratch=$(mktemp -d /tmp/kith-fuzz-run-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${CC:-clang} CFLAGS=${CFLAGS:--O1 -g} \
    cmake -S "$root" -B "$build" -DKITH_FUZZ=ON -DKITH_TESTS=OFF >"$scratch/configure.log" 2>&1 ||
    { cat "$scratch/configure.log"; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" >"$scratch/build.log" 2>&1 ||
  { tail -50 "$scratch/build.log"; exit 1; }

status=0
for src in "$here"/fuzz_*.c; do
  name=$(basename "$src" .c)
  bin=$build/tests/fuzz/$name
  arts=$build/fuzz-artifacts/$name
  mkdir -p "$scratch/$name" "$arts" "$here/corpus/$name"
  log=$scratch/$name.log
  dict=()
  [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      "${dict[@]}" -artifact_prefix="$arts/" "$scratch/$name" "$here/corpus/$name" \
      >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "$name: ok, ${execs:-?} runs in ${secs}s, $cov"
  else
    status=1
    echo "$name: FAILED" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|artifact' "$log" >&2 || tail -40 "$log" >&2
  fi
done
exit $status
