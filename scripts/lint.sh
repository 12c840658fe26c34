#!/usr/bin/env bash
# Style checks that a compiler does not make (STYLE.md, "Tools hold the style"):
# banned functions, and clang-format conformance of every C file.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h')
# atoi, sprintf, strcpy, strcat, gets: unbounded or unchecked; memcmp on secrets is
# checked by review (sodium_memcmp), as memcmp on ids is fine.
if grep -nE '\b(atoi|sprintf|vsprintf|strcpy|strcat|gets)\s*\(' $files; then
  echo "lint: banned function (use snprintf, strtol, memcpy with a checked length)" >&2
  status=1
fi
if command -v clang-format >/dev/null; then
  if ! clang-format --dry-run -Werror $files 2>/dev/null; then
    echo "lint: files differ from .clang-format; run: clang-format -i \$(git ls-files '*.c' '*.h')" >&2
    status=1
  fi
fi
[ $status = 0 ] && echo "lint: ok"
exit $status
