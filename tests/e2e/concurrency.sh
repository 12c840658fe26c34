#!/usr/bin/env bash
# concurrency.sh — several kith processes on one home at once, and processes killed
# with SIGKILL while writing or reading: every acknowledged write survives, a killed
# import is all or nothing, and the next process opens the store normally.
. "$(dirname "$0")/lib.sh"

KHOME="$T/home"
new_home "$KHOME"

# ---- three writers at once, 200 contacts each -------------------------------------------
WRITERS=3
PER=200
writer()
{
  local w=$1 i id
  for ((i = 1; i <= PER; i++)); do
    if id=$(kith contact add --name "Writer $w #$i" 2>>"$T/writer.err"); then
      echo "$id" >>"$T/ids.$w"
    else
      echo "writer $w, contact $i: exit $?" >>"$T/failures"
    fi
  done
}
: >"$T/failures"
pids=()
for ((w = 1; w <= WRITERS; w++)); do
  : >"$T/ids.$w"
  writer "$w" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
check_eq "" "$(cat "$T/failures" "$T/writer.err" 2>/dev/null)" "no add failed while $WRITERS processes wrote at once"
expect_ok kith --json contact list
LIST=$OUT
check_eq "$((WRITERS * PER))" "$(jqs length "$LIST")" "all $((WRITERS * PER)) contacts are listed"
EXPECTED=$(for ((w = 1; w <= WRITERS; w++)); do
  for ((i = 1; i <= PER; i++)); do echo "Writer $w #$i"; done
done | sort)
check_eq "$EXPECTED" "$(jqs '.[].name' "$LIST" | sort)" "every name is there, once"
check_eq "$(cat "$T"/ids.* | sort)" "$(jqs '.[].id' "$LIST")" "the listed ids are the acknowledged ids"
check_eq "$((WRITERS * PER))" "$(jqs '[.[].id] | unique | length' "$LIST")" "no id was given twice"

# ---- kill -9 while adding: every acknowledged contact survives ------------------------------
K9="$T/k9"
new_home "$K9"
: >"$T/acked"
# Each round runs two adding loops in a session of their own and kills the whole
# session with SIGKILL after a while, kith processes included.
adder_script='
  home=$1 round=$2 loop=$3 acked=$4
  for ((i = 1; i <= 2000; i++)); do
    id=$(timeout --foreground 60 "$KITH_BIN" --home "$home" contact add \
         --name "Round $round loop $loop #$i" --tag killed --note "written before the kill") &&
      echo "$id" >>"$acked"
  done'
export KITH_BIN
for round in 1 2 3 4 5 6; do
  setsid bash -c "$adder_script" adder "$K9" "$round" a "$T/acked" &
  sa=$!
  setsid bash -c "$adder_script" adder "$K9" "$round" b "$T/acked" &
  sb=$!
  sleep "0.$((2 + round))"
  kill -9 -- "-$sa" "-$sb" 2>/dev/null
  wait "$sa" "$sb" 2>/dev/null
  KITH_TIMEOUT=20 expect_ok kith_in "$K9" --json whoami
done
grep -E '^[0-9a-f]{32}$' "$T/acked" | sort -u >"$T/acked.ids"
ACKED=$(wc -l <"$T/acked.ids" | tr -d ' ')
check "some adds were acknowledged before the kills ($ACKED)" test "$ACKED" -gt 0
KITH_TIMEOUT=20 expect_ok kith_in "$K9" --json contact list
jqs '.[].id' "$OUT" | sort >"$T/listed.ids"
MISSING=$(comm -23 "$T/acked.ids" "$T/listed.ids")
check_eq "" "$MISSING" "every contact acknowledged before a kill -9 is listed ($ACKED acknowledged)"
LISTED=$(wc -l <"$T/listed.ids" | tr -d ' ')
check_eq "$LISTED" "$(count_notes "$K9")" "each listed contact has its note (add is all or nothing)"
check_eq "$LISTED" "$(kith_in "$K9" --json contact list --tag killed | jq length)" \
  "the tag index agrees with the contacts"
KITH_TIMEOUT=20 expect_ok kith_in "$K9" contact add --name "After the kills"
check_match '^[0-9a-f]{32}$' "$OUT" "the store takes writes after the kills"

# ---- kill -9 during an import: all or nothing ----------------------------------------------
IMP="$T/imp"
new_home "$IMP"
BULK=2000
jq -n --argjson n "$BULK" '[range(0; $n) | {name: "Bulk \(.)", emails: ["bulk\(.)@example.com"],
  org: "Org \(. % 50)", tags: ["bulk"], needs: "something \(.)"}]' >"$T/bulk.json"
# How long one import takes here; the kills land at fractions of that.
new_home "$T/timing"
t0=$(date +%s%N)
kith_in "$T/timing" import "$T/bulk.json" >/dev/null || fail "a timing import"
MS=$((($(date +%s%N) - t0) / 1000000))
for pct in 10 30 50 70 90; do
  before=$(count_contacts "$IMP")
  "$KITH_BIN" --home "$IMP" import "$T/bulk.json" >/dev/null 2>&1 &
  ip=$!
  sleep "$(printf '%d.%03d' $((MS * pct / 100 / 1000)) $((MS * pct / 100 % 1000)))"
  kill -9 "$ip" 2>/dev/null
  wait "$ip" 2>/dev/null
  KITH_TIMEOUT=20 run kith_in "$IMP" --json contact list
  n=$(jq length "$T/out")
  if [ "$RC" = 0 ] && { [ "$n" = "$before" ] || [ "$n" = "$((before + BULK))" ]; }; then
    pass "import killed at $pct% of ${MS} ms: all or nothing ($before -> $n)"
  else
    fail "import killed at $pct% of ${MS} ms: all or nothing" \
      "expected: $before or $((before + BULK)) contacts, exit 0" "actual:   $n, exit $RC ($ERR)"
  fi
done
KITH_TIMEOUT=30 expect_ok kith_in "$IMP" import "$T/bulk.json"
check_eq 0 "$(($(count_contacts "$IMP") % BULK))" "the store imports normally after the kills"

# ---- a reader killed while it holds a read transaction ---------------------------------------
# contact list --json of a big store into a pipe nobody reads blocks once the pipe is
# full, with its read transaction open. Two such readers: the victim is killed, the
# keeper stays alive (while any process has the store open, LMDB keeps the reader
# table as it is, so the victim's slot stays behind until someone clears it).
# The number of reader-table slots of a process (mdb_stat -r lists pid, thread, txn).
reader_slots() { mdb_stat -r "$IMP" | awk -v p="$1" '$1 == p { n++ } END { print n + 0 }'; }
blocked_reader()
{ # blocked_reader NAME: starts one; sets BR_PID (kith) and BR_SINK (the pipe's reader)
  mkfifo "$T/$1.fifo"
  # shellcheck disable=SC2217 # the reading end that never reads
  sleep 120 <"$T/$1.fifo" &
  BR_SINK=$!
  "$KITH_BIN" --home "$IMP" --json contact list >"$T/$1.fifo" &
  BR_PID=$!
  local k
  for ((k = 0; k < 200; k++)); do # at most 20 s
    [ "$(reader_slots "$BR_PID")" = 1 ] && return 0
    sleep 0.1
  done
  return 1
}
if command -v mdb_stat >/dev/null; then
  check "a blocked reader holds a slot in the reader table" blocked_reader keeper
  keeper=$BR_PID keeper_sink=$BR_SINK
  check "a second blocked reader holds a slot" blocked_reader victim
  victim=$BR_PID victim_sink=$BR_SINK
  kill -STOP "$victim" 2>/dev/null
  kill -9 "$victim" "$victim_sink" 2>/dev/null
  wait "$victim" "$victim_sink" 2>/dev/null
  check_eq 1 "$(reader_slots "$victim")" "the killed reader's slot is left behind"
  KITH_TIMEOUT=20 expect_ok kith_in "$IMP" contact add --name "After the dead reader"
  check_eq 0 "$(reader_slots "$victim")" "opening the store cleared the dead reader's slot"
  check_eq 1 "$(reader_slots "$keeper")" "the live reader keeps its slot"
  KITH_TIMEOUT=20 expect_ok kith_in "$IMP" --json contact list --search "after the dead reader"
  check_eq 1 "$(jqs length "$OUT")" "the next process reads what was written"
  kill -9 "$keeper" "$keeper_sink" 2>/dev/null
  wait "$keeper" "$keeper_sink" 2>/dev/null
  KITH_TIMEOUT=20 expect_ok kith_in "$IMP" contact add --name "After both readers"
  check_eq 0 "$(reader_slots "$keeper")" "no reader slot is left once all are dead"
else
  skip "stale reader: mdb_stat (lmdb-utils) is not installed"
fi

finish
