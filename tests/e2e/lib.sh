# lib.sh — sourced by every end-to-end scenario in tests/e2e/.
#
# Each scenario drives the real kith binary ($KITH_BIN) against homes inside one
# temporary folder that is removed on exit. Assertions print what was expected and
# what came instead, then stop the script (exit 1); set KITH_E2E_KEEP_GOING=1 to
# count failures and carry on instead. The last line says "N passed, M failed".
#
#   kith ARGS...              run kith on the current home ($KHOME)
#   kith_in HOME ARGS...      run kith on another home
#   run CMD...                run a command; sets RC, OUT, ERR (files $T/out, $T/err)
#   expect_exit CODE CMD...   run, and check the exit code
#   expect_ok CMD...          run, and check it exits 0
#   expect_error CODE PATTERN CMD...
#                             run, and check: exit CODE, nothing on stdout, exactly
#                             one line on stderr, matching PATTERN (grep -E -i)
#   check_eq EXPECTED ACTUAL WHAT, check_match REGEX TEXT WHAT,
#   check_contains TEXT NEEDLE WHAT, check_not_contains TEXT NEEDLE WHAT, check WHAT CMD...
#   skip WHY                  note a check that cannot run here
#   finish                    print the summary and exit
#
# Every kith call runs under timeout(1) ($KITH_E2E_TIMEOUT seconds, default 60), so a
# hang fails the test instead of stalling it. KITH_E2E_VERBOSE=1 prints each check.
# Needs bash, coreutils and jq; errors.sh uses setpriv (util-linux) when run as root,
# schema.sh and concurrency.sh mdb_dump, mdb_load and mdb_stat (lmdb-utils).
#
# Run on its own (ctest runs every tests/e2e/*.sh, this one too), lib.sh checks that
# its assertions fail when they should.
#
#   KITH_BIN=build/kith bash tests/e2e/basic.sh

set -u
set -o pipefail

if [ -z "${KITH_BIN:-}" ] || [ ! -x "$KITH_BIN" ]; then
  echo "KITH_BIN must name the built kith binary (got '${KITH_BIN:-}')" >&2
  exit 1
fi
command -v jq >/dev/null || { echo "these tests need jq (apt-get install jq)" >&2; exit 1; }

E2E_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/kith-e2e-$E2E_NAME.XXXXXX") || exit 1
PASSED=0
FAILED=0
SKIPPED=0
E2E_DONE=0
KITH_TIMEOUT=${KITH_E2E_TIMEOUT:-60}

# Never touch the user's own store: no inherited home, and HOME inside $T.
unset KITH_HOME XDG_DATA_HOME KITH_MAP_SIZE KITH_DISC_GROUP KITH_DISC_PORT KITH_DISC_IFACE
export HOME="$T/user"
# No LAN discovery unless a scenario turns it on (on loopback, on a port of its
# own: see discovery.sh): beacons on the real LAN are not a test's business.
export KITH_DISC=off
export LC_ALL=C.UTF-8
mkdir -p "$HOME"
KHOME="$T/home"

e2e_cleanup()
{
  local code=$?
  # background jobs a scenario may have left running (and the process groups of
  # those started with setsid, with whatever they started)
  local j
  for j in $(jobs -p); do kill -9 -- "-$j" "$j" 2>/dev/null; done
  wait 2>/dev/null
  chmod -R u+rwX "$T" 2>/dev/null
  rm -rf "$T"
  if [ "$E2E_DONE" = 0 ]; then
    echo "$E2E_NAME: $PASSED passed, $((FAILED > 0 ? FAILED : 1)) failed (stopped early, exit $code)"
    [ "$code" = 0 ] && code=1
  fi
  exit "$code"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

kith() { timeout --foreground -k 5 "$KITH_TIMEOUT" "$KITH_BIN" --home "$KHOME" "$@"; }
kith_in() { local h=$1; shift; timeout --foreground -k 5 "$KITH_TIMEOUT" "$KITH_BIN" --home "$h" "$@"; }

pass() { PASSED=$((PASSED + 1)); [ -n "${KITH_E2E_VERBOSE:-}" ] && echo "ok - $*"; return 0; }

fail()
{
  FAILED=$((FAILED + 1))
  {
    echo "FAIL - $1"
    shift
    local line
    for line in "$@"; do printf '    %s\n' "$line"; done
    local i where="?"
    for ((i = 0; i < ${#BASH_LINENO[@]}; i++)); do
      if [ "${BASH_SOURCE[i + 1]:-}" = "$0" ]; then where=${BASH_LINENO[i]}; break; fi
    done
    echo "    (at $(basename "$0"):$where)"
  } >&2
  if [ -z "${KITH_E2E_KEEP_GOING:-}" ]; then
    exit 1
  fi
  return 1
}

skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $*"; }

# Shows a captured text compactly in a failure message.
show() { printf '%s' "$1" | head -c 2000 | sed -e '2,$s/^/      /'; }

run()
{
  "$@" >"$T/out" 2>"$T/err"
  RC=$?
  OUT=$(cat "$T/out")
  ERR=$(cat "$T/err")
  return 0
}

# Runs stdin-fed commands: run_in FILE CMD...
run_in()
{
  local in=$1; shift
  "$@" <"$in" >"$T/out" 2>"$T/err"
  RC=$?
  OUT=$(cat "$T/out")
  ERR=$(cat "$T/err")
  return 0
}

describe() { printf '%s' "$*"; }

expect_exit()
{
  local code=$1; shift
  run "$@"
  if [ "$RC" = "$code" ]; then
    pass "exit $code: $(describe "$@")"
  else
    fail "exit code of: $(describe "$@")" "expected: $code" "actual:   $RC" \
      "stdout: $(show "$OUT")" "stderr: $(show "$ERR")"
  fi
}

expect_ok() { expect_exit 0 "$@"; }

expect_error()
{
  local code=$1 pattern=$2; shift 2
  run "$@"
  local what
  what=$(describe "$@")
  local lines
  lines=$(wc -l <"$T/err")
  if [ "$RC" != "$code" ]; then
    fail "exit code of: $what" "expected: $code" "actual:   $RC" \
      "stdout: $(show "$OUT")" "stderr: $(show "$ERR")"
    return 1
  fi
  if [ -s "$T/out" ]; then
    fail "stdout must be empty on error: $what" "actual stdout: $(show "$OUT")"
    return 1
  fi
  if [ "$lines" != 1 ] || [ "$(tail -c 1 "$T/err" | od -An -c | tr -d ' ')" != '\n' ]; then
    fail "stderr must be exactly one line: $what" "expected: 1 line" \
      "actual:   $lines line(s): $(show "$ERR")"
    return 1
  fi
  if ! grep -Eiq -- "$pattern" "$T/err"; then
    fail "error message of: $what" "expected to match: $pattern" "actual: $ERR"
    return 1
  fi
  pass "exit $code, one line: $what"
}

check_eq()
{
  if [ "$1" == "$2" ]; then
    pass "$3"
  else
    fail "$3" "expected: $(show "$1")" "actual:   $(show "$2")"
  fi
}

check_match()
{
  if printf '%s' "$2" | grep -Eq -- "$1"; then
    pass "$3"
  else
    fail "$3" "expected to match: $1" "actual: $(show "$2")"
  fi
}

check_contains()
{
  case "$1" in
    *"$2"*) pass "$3" ;;
    *) fail "$3" "expected to contain: $2" "actual: $(show "$1")" ;;
  esac
}

check_not_contains()
{
  case "$1" in
    *"$2"*) fail "$3" "expected not to contain: $2" "actual: $(show "$1")" ;;
    *) pass "$3" ;;
  esac
}

# check WHAT CMD...: CMD must succeed.
check()
{
  local what=$1; shift
  if "$@"; then
    pass "$what"
  else
    fail "$what" "command failed: $(describe "$@")"
  fi
}

# jq on a string: jqs FILTER JSON
jqs() { printf '%s' "$2" | jq -r "$1"; }

# The number of live contacts / notes in a home (from --json lists).
count_contacts() { kith_in "${1:-$KHOME}" --json contact list | jq length; }
count_notes() { kith_in "${1:-$KHOME}" --json note list | jq length; }

# A fresh store in a new home: new_home DIR [NAME]
new_home()
{
  kith_in "$1" init --name "${2:-Tester}" --device e2e >/dev/null 2>"$T/init.err" ||
    fail "kith init in $1" "stderr: $(cat "$T/init.err")"
}

finish()
{
  E2E_DONE=1
  [ "$SKIPPED" -gt 0 ] && echo "$E2E_NAME: $SKIPPED check(s) skipped (see 'skip -' above)"
  echo "$E2E_NAME: $PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ] && exit 0
  exit 1
}

# Run on its own (ctest runs every tests/e2e/*.sh), this file tests its own helpers:
# each must fail when it should, or the scenarios would pass whatever kith does.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  must_fail() { # must_fail WHAT CMD...: CMD, in a subshell, must stop with exit 1
    local what=$1; shift
    (unset KITH_E2E_KEEP_GOING; "$@") >/dev/null 2>&1
    check_eq 1 "$?" "self-test: $what"
  }
  must_pass() {
    local what=$1; shift
    (unset KITH_E2E_KEEP_GOING; "$@") >/dev/null 2>&1
    check_eq 0 "$?" "self-test: $what"
  }
  must_fail "check_eq on different values" check_eq a b x
  must_pass "check_eq on equal values" check_eq a a x
  must_fail "check_match without a match" check_match '^a$' ab x
  must_fail "check_contains without the needle" check_contains abc z x
  must_fail "check_not_contains with the needle" check_not_contains abc b x
  must_fail "check on a failing command" check x false
  must_fail "expect_exit on another code" expect_exit 3 bash -c 'exit 4'
  must_pass "expect_exit on the code" expect_exit 3 bash -c 'exit 3'
  must_fail "expect_error with output on stdout" expect_error 65 bad bash -c 'echo out; echo bad >&2; exit 65'
  must_fail "expect_error with two lines on stderr" expect_error 65 bad bash -c 'printf "bad\nmore\n" >&2; exit 65'
  must_fail "expect_error without a final newline" expect_error 65 bad bash -c 'printf bad >&2; exit 65'
  must_fail "expect_error with no message" expect_error 65 . bash -c 'exit 65'
  must_fail "expect_error on another message" expect_error 65 kith bash -c 'echo bad >&2; exit 65'
  must_fail "expect_error on another code" expect_error 65 bad bash -c 'echo bad >&2; exit 64'
  must_pass "expect_error on one line" expect_error 65 "^kith: bad$" bash -c 'echo "kith: bad" >&2; exit 65'
  expect_ok kith --version
  check_match '^kith ' "$OUT" "self-test: kith runs from \$KITH_BIN"
  finish
fi

# ---- helpers for scenarios that run kith serve, pair homes and run relays (sync,
# kill9, discovery, relay...). Every wait is bounded.
#
#   wait_line FILE N [SEC]      until FILE has at least N lines (default 10 s)
#   wait_event FILE EVENT [SEC] until FILE (serve --json output) has an EVENT line
#   serve_start HOME OUT [ARGS...]
#                               kith --home HOME --json serve --listen 127.0.0.1:0
#                               in the background, output in OUT (stderr OUT.err);
#                               sets SERVE_PID (timeout(1)'s pid) and SERVE_ADDR
#   serve_stop PID              SIGTERM to the serve timeout(1) runs as PID; its exit
#   pair_homes INVITER JOINER [INVITE ARGS...]
#                               kith invite ARGS on INVITER (--listen 127.0.0.1:0
#                               unless its serve takes the join), kith join on JOINER
#   relay_start NAME [ARGS...]  kith relay run --listen 127.0.0.1:${PORT:-0} with its
#                               data in $T/NAME, in the background (environment as
#                               the caller's: KITH_RELAY_WAIT_MS=... shortens its
#                               rendezvous waits); sets RELAY_PID (timeout(1)'s pid)
#                               and RELAY_ADDR; PORT=... reuses a port

wait_line()
{
  local i tries=$(((${3:-10}) * 10))
  for ((i = 0; i < tries; i++)); do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

wait_event()
{
  local i tries=$(((${3:-10}) * 20))
  for ((i = 0; i < tries; i++)); do
    [ -f "$1" ] && grep -qF "\"event\":\"$2\"" "$1" && return 0
    sleep 0.05
  done
  return 1
}

serve_start()
{
  local home=$1 out=$2; shift 2
  : >"$out"
  timeout "${KITH_E2E_SERVE_TIMEOUT:-300}" "$KITH_BIN" --home "$home" --json serve \
    --listen 127.0.0.1:0 "$@" >"$out" 2>"$out.err" &
  SERVE_PID=$!
  SERVE_ADDR=
  if ! wait_event "$out" listening; then
    fail "serve on $home says where it listens" "stdout: $(show "$(cat "$out")")" \
      "stderr: $(show "$(cat "$out.err")")"
    return 1
  fi
  SERVE_ADDR=$(grep -F '"event":"listening"' "$out" | head -1 | jq -r .addr)
}

# SIGTERM to kith itself, not to timeout(1): timeout would forward it and then
# signal its whole process group, and that second SIGTERM can land after serve
# has closed its handlers (exit 143 instead of a clean stop).
serve_stop()
{
  local child
  child=$(pgrep -P "$1")
  kill -TERM "${child:-$1}" 2>/dev/null
  wait "$1"
}

pair_homes()
{
  local inviter=$1 joiner=$2; shift 2
  : >"$T/pair.out"
  timeout 30 "$KITH_BIN" --home "$inviter" invite "$@" >"$T/pair.out" 2>"$T/pair.err" &
  local pid=$!
  wait_line "$T/pair.out" 1 || fail "invite printed no code" "stderr: $(cat "$T/pair.err")"
  expect_ok kith_in "$joiner" join "$(head -1 "$T/pair.out")"
  wait "$pid"
  check_eq 0 "$?" "the invite ends once $joiner joined"
}

relay_start()
{
  local name=$1; shift
  local out=$T/$name.out
  : >"$out"
  timeout 300 "$KITH_BIN" --home "$T/$name-home" relay run --listen "127.0.0.1:${PORT:-0}" \
    --data "$T/$name" "$@" >"$out" 2>"$out.err" &
  RELAY_PID=$!
  if ! wait_event "$out" listening; then
    fail "relay $name says where it listens" "stdout: $(show "$(cat "$out")")" \
      "stderr: $(show "$(cat "$out.err")")"
    return 1
  fi
  RELAY_ADDR=$(grep -F '"event":"listening"' "$out" | head -1 | jq -r .addr)
}
