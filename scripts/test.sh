#!/usr/bin/env bash
# Installs what is missing, builds kith three ways and runs every test:
#   build/release  -O2, warnings as errors: unit and end-to-end tests
#   build/asan     AddressSanitizer + UndefinedBehaviorSanitizer: the same suite
#   build/fuzz     clang libFuzzer: each fuzz target for a short smoke run
# FUZZ_SECONDS (default 30) sets the time per fuzz target; 0 skips fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_suite() { # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DKITH_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs") | tee "$dir/ctest.log"
  local n
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.log")
  passed=$((passed + ${n:-0}))
}
passed=0

echo "== release build and tests"
run_suite build/release -DCMAKE_BUILD_TYPE=Release
echo "== sanitizer build (ASan + UBSan) and tests"
run_suite build/asan -DCMAKE_BUILD_TYPE=Debug -DKITH_SANITIZE=ON
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  echo "== fuzz smoke run (${FUZZ_SECONDS:-30} s per target)"
  tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
  passed=$((passed + $(ls tests/fuzz/fuzz_*.c | wc -l)))
fi
echo "== all tests passed (release, sanitizers, fuzz)"
echo "$passed passed, 0 failed"
