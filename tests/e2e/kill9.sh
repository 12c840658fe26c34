# kill -9 a sync at random points, over and over: a laptop with thousands of
# contacts serves on 127.0.0.1, a freshly linked phone runs 'kith sync --addr' and
# one of the two is killed with SIGKILL after a random delay (the phone's sync, or
# the laptop's serve, restarted after). Between kills, bulk edits on either side
# give the next sync work to do, and small edits on either side are recorded as
# acknowledged when their command exits 0. After the loop: a final sync each way
# completes, laptop and phone hold identical exports, every acknowledged edit is
# there, LMDB is sound, and the reader slots of killed processes are cleared when
# kith opens the store (mdb_reader_check).
#
#   KITH_E2E_KILLS   kills to reach (default 100), KITH_E2E_KILL_SECS the loop's
#                    bound in seconds (default 70), KITH_E2E_KILL_CONTACTS the
#                    laptop's contacts (default 5000)
. "$(dirname "$0")/lib.sh"

for tool in mdb_stat mdb_dump; do
  command -v "$tool" >/dev/null || { echo "kill9.sh needs $tool (lmdb-utils)" >&2; exit 1; }
done

L=$T/laptop P=$T/phone
N=${KITH_E2E_KILL_CONTACTS:-5000}
TARGET=${KITH_E2E_KILLS:-100}
BOUND=${KITH_E2E_KILL_SECS:-70}

# the export of a home, keys sorted, without its own timestamp
export_of() { kith_in "$1" export --format json | jq -S 'del(.exported)'; }

# dead_readers HOME: pids in the store's reader table whose process is gone (or a
# zombie: a killed orphan waits a moment for init to reap it, its locks released)
dead_readers()
{
  local pid state
  for pid in $(mdb_stat -r "$1" | awk '$1 ~ /^[0-9]+$/ { print $1 }'); do
    state=$(ps -o stat= -p "$pid" 2>/dev/null)
    case $state in "" | Z*) echo "$pid" ;; esac
  done
}

# (without a fork each: the loop runs these hundreds of times)
# running PID: the process runs (a killed orphan stays a zombie until init reaps it)
running()
{
  local st
  { read -r _ _ st _ <"/proc/$1/stat"; } 2>/dev/null && [ "$st" != Z ]
}
# child_of PID: the child process of timeout(1) running as PID, if any
child_of()
{
  local c=""
  { read -r c _ <"/proc/$1/task/$1/children"; } 2>/dev/null
  echo "$c"
}

# kill_group PID: SIGKILL to what timeout(1) runs as PID (its own process group);
# true if timeout's child (kith) was still running
kill_group()
{
  local child was=1
  child=$(child_of "$1")
  [ -n "$child" ] && running "$child" && was=0
  kill -KILL -- "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return "$was"
}

# ack ID FIELD VALUE: an edit whose command exited 0 (the last one per field counts)
ack() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$T/acked"; }
: >"$T/acked"

# ---- a laptop with N contacts, a fresh phone -----------------------------------------
expect_ok kith_in "$L" init --name Ada --device laptop
jq -n --argjson n "$N" '{contacts: [range($n) | {name: "Person \(.)",
  emails: ["p\(.)@example.com"], phones: ["+1 555 \(.)"], org: "Org \(. % 50)",
  title: "Engineer", tags: ["t\(. % 7)"]}]}' >"$T/gen.json"
expect_ok kith_in "$L" import "$T/gen.json"
kith_in "$L" --json contact list | jq -c '[.[] | {id, name}]' >"$T/base.json"
jq -c '[.[].id]' "$T/base.json" >"$T/ids.json"
check_eq "$N" "$(jq length "$T/ids.json")" "the laptop holds $N contacts"
# the bulk edits: every contact in one part of $PARTS gets the title @TITLE@ (with its
# name: the phone may not hold it yet)
PARTS=8
for ((part = 0; part < PARTS; part++)); do
  jq -c --argjson p "$part" --argjson n "$PARTS" '{contacts: [to_entries[] | select(.key % $n == $p)
    | .value + {title: "@TITLE@"}]}' "$T/base.json" >"$T/bulk.$part"
done
ack_l=$(kith_in "$L" contact add --name "Laptop's own") && ack "$ack_l" name "Laptop's own"
pair_homes "$L" "$P" --device --listen 127.0.0.1:0
ack_p=$(kith_in "$P" contact add --name "Phone's own") && ack "$ack_p" name "Phone's own"
mapfile -t base_ids < <(jq -r '.[]' "$T/ids.json") # base_ids[part] is in part
last_bulk=() # per part: the last acknowledged bulk edit
for ((part = 0; part < PARTS; part++)); do last_bulk[part]=Engineer; done

serve_start "$L" "$T/serve.l" || finish

# ---- the loop: at most $TARGET kills or $BOUND seconds ---------------------------------
# sanitized FILE: count a sanitizer's report in the stderr of a process the loop
# ran (the loop's processes are killed or fail on purpose: their exit says little)
reports=0
sanitized()
{
  if grep -qE 'Sanitizer|runtime error' "$1" 2>/dev/null; then
    reports=$((reports + 1))
    cat "$1" >>"$T/reports"
  fi
}

# the laptop's serve: launched in the background (a restart overlaps the next
# round's edits), then ready once it listens; restarted if it died on its own
serve_launch()
{
  sanitized "$T/serve.l.err"
  : >"$T/serve.l"
  timeout 300 "$KITH_BIN" --home "$L" --json serve --listen 127.0.0.1:0 \
    >"$T/serve.l" 2>"$T/serve.l.err" &
  SERVE_PID=$!
  SERVE_ADDR=
}
serve_ready()
{
  [ -n "$SERVE_ADDR" ] && return 0
  if ! wait_event "$T/serve.l" listening; then
    fail "the laptop's serve starts again" "stderr: $(cat "$T/serve.l.err")"
    finish
  fi
  local line
  line=$(grep -F '"event":"listening"' "$T/serve.l" | head -1)
  SERVE_ADDR=${line#*\"addr\":\"}
  SERVE_ADDR=${SERVE_ADDR%%\"*}
}
serve_died=0 serve_died_rc=""
keep_serving()
{
  running "$SERVE_PID" && return 0
  wait "$SERVE_PID"
  serve_died_rc+=" $?"
  serve_died=$((serve_died + 1))
  serve_launch
}

kills=0 kills_phone=0 kills_serve=0 missed=0 iter=0 hung=0 adds=0 sigpipe=0
acked_ok=0 acked_lost=""
range=300 # ms, at most 999: the kill comes at a random point in [0, range); range
          # follows the syncs' length (shrinks when a kill comes too late, grows
          # when in time)
declare -A sync_rc=()
start=$SECONDS
while [ "$kills" -lt "$TARGET" ] && [ $((SECONDS - start)) -lt "$BOUND" ]; do
  iter=$((iter + 1))
  keep_serving
  # work for the sync: the title of one part of the base contacts, on one side
  # or the other (not in the first rounds, which kill the phone's initial sync)
  phone_bulk=""
  if [ "$iter" -gt 3 ]; then
    side=$L
    [ $((RANDOM % 2)) = 0 ] && side=$P
    part=$((RANDOM % PARTS))
    sed "s/@TITLE@/Iter $iter/g" "$T/bulk.$part" >"$T/bulk.json"
    if kith_in "$side" import "$T/bulk.json" >/dev/null 2>"$T/bulk.err"; then
      last_bulk[part]="Iter $iter"
      [ "$side" = "$P" ] && phone_bulk=$part
    else
      fail "bulk import on $(basename "$side") (round $iter)" "stderr: $(cat "$T/bulk.err")"
    fi
  fi
  # sometimes an acknowledged small edit on either side
  case $((RANDOM % 8)) in
    0) id=$(kith_in "$L" contact add --name "Added on laptop $iter") &&
         ack "$id" name "Added on laptop $iter" && adds=$((adds + 1)) ;;
    1) id=$(kith_in "$P" contact add --name "Added on phone $iter") &&
         ack "$id" name "Added on phone $iter" && adds=$((adds + 1)) ;;
    2) kith_in "$L" contact set "$ack_l" nickname="laptop $iter" >/dev/null &&
         ack "$ack_l" nickname "laptop $iter" ;;
    3) kith_in "$P" contact set "$ack_p" nickname="phone $iter" >/dev/null &&
         ack "$ack_p" nickname "phone $iter" ;;
    4) kith_in "$L" note add "$ack_l" "laptop note $iter" >/dev/null &&
         ack "$ack_l" note "laptop note $iter" ;;
    5) kith_in "$P" note add "$ack_p" "phone note $iter" >/dev/null &&
         ack "$ack_p" note "phone note $iter" ;;
  esac

  keep_serving
  serve_ready
  timeout -s KILL 20 "$KITH_BIN" --home "$P" sync --addr "$SERVE_ADDR" >/dev/null 2>"$T/sync.err" &
  sp=$!
  printf -v delay '0.%03d' $((RANDOM % range))
  sleep "$delay"
  # (each branch waits for the sync: its stderr is complete after)
  if [ $((iter % 2)) = 1 ]; then # kill the phone's sync
    kill_group "$sp"
    hit=$?
  else # kill the laptop's serve, then start it again
    running "$(child_of "$sp")"
    hit=$?
    keep_serving # (if it died on its own, it is not this round's kill)
    kill -KILL -- "-$SERVE_PID" 2>/dev/null || kill -KILL "$SERVE_PID"
    wait "$SERVE_PID" 2>/dev/null
    wait "$sp"
    rc=$?
    sync_rc[$rc]=$((${sync_rc[$rc]:-0} + 1))
    [ "$rc" = 137 ] && hung=$((hung + 1))
    [ "$rc" = 141 ] && sigpipe=$((sigpipe + 1))
    # a sync that exited 0 was committed by the other side, killed or not
    if [ "$rc" = 0 ] && [ -n "$phone_bulk" ]; then
      title=$(kith_in "$L" --json contact show "${base_ids[phone_bulk]}" | jq -r .title)
      if [ "$title" = "Iter $iter" ]; then
        acked_ok=$((acked_ok + 1))
      else
        acked_lost+=" round $iter: $title;"
      fi
    fi
    serve_launch
  fi
  sanitized "$T/sync.err"
  if [ "$hit" = 0 ]; then
    kills=$((kills + 1))
    if [ $((iter % 2)) = 1 ]; then kills_phone=$((kills_phone + 1)); else kills_serve=$((kills_serve + 1)); fi
    range=$((range * 21 / 20 > 300 ? 300 : range * 21 / 20))
  else
    missed=$((missed + 1))
    range=$((range * 4 / 5 < 20 ? 20 : range * 4 / 5))
  fi
done
secs=$((SECONDS - start))
codes=$(for c in "${!sync_rc[@]}"; do printf ' %s:%s' "$c" "${sync_rc[$c]}"; done)
echo "kill9: $kills kills mid-sync ($kills_phone of the phone's sync, $kills_serve of the laptop's serve), $missed after the sync ended, $iter rounds in ${secs}s (kill range at the end: ${range} ms); the phone's sync exited with (code:count)$codes when its serve was killed; the serve died on its own $serve_died time(s)${serve_died_rc:+ (exit$serve_died_rc)}"
check_eq 0 "$hung" "a sync whose serve was killed never hangs"
check_eq "" "$acked_lost" "a sync that exits 0 was committed by the serve, killed right after ($acked_ok checked)"
# (kith died of SIGPIPE, exit 141, when the other end of a sync vanished: the
# laptop's serve when the phone's sync was killed, the sync when the serve was)
check_eq 0 "$sigpipe" "a sync never dies of SIGPIPE when its serve is killed"
if [ "$reports" = 0 ]; then
  pass "no sanitizer report from the loop's syncs and serves"
else
  fail "no sanitizer report from the loop's syncs and serves" "$reports report(s): $(show "$(head -30 "$T/reports")")"
fi
if [ "$kills" -ge "$TARGET" ]; then
  pass "$kills kills mid-sync"
elif [ "$kills" -ge 10 ]; then
  skip "only $kills kills mid-sync (of $TARGET) within ${BOUND}s: a slow build?"
else
  fail "at least 10 kills mid-sync" "actual: $kills in ${secs}s ($missed missed)"
fi
sleep 0.5 # (if the last kill were to take the serve down with it)
keep_serving
serve_ready
check_eq 0 "$serve_died" "the serve never dies when a syncing device is killed (it died with exit$serve_died_rc)"

# ---- afterwards: the next syncs complete, both ways ------------------------------------
serve_stop "$SERVE_PID"
check_eq 0 "$?" "the laptop's serve stops cleanly"
serve_start "$L" "$T/serve.l" || finish
expect_ok kith_in "$P" --json sync --addr "$SERVE_ADDR"
check_eq true "$(jqs '.syncs[0].ok' "$OUT")" "the phone's next sync completes"
serve_stop "$SERVE_PID"
serve_start "$P" "$T/serve.p" || finish
expect_ok kith_in "$L" --json sync --addr "$SERVE_ADDR"
check_eq true "$(jqs '.syncs[0].ok' "$OUT")" "the laptop's sync to the phone completes"
expect_ok kith_in "$L" --json sync --addr "$SERVE_ADDR"
check_eq "0 0" "$(jqs '"\(.sent) \(.received)"' "$OUT")" "... and a second one moves nothing"

export_of "$L" >"$T/exp.laptop"
export_of "$P" >"$T/exp.phone"
if cmp -s "$T/exp.laptop" "$T/exp.phone"; then
  pass "laptop and phone exports are identical"
else
  fail "laptop and phone exports are identical" \
    "diff: $(show "$(diff "$T/exp.laptop" "$T/exp.phone" | head -40)")"
fi
check_eq "$((N + 2 + adds))" "$(jq '.contacts | length' "$T/exp.laptop")" \
  "the laptop holds every contact: $N, the two own ones and $adds acknowledged adds"
check_eq "$(printf '["%s"]\n' "${last_bulk[@]}" | jq -sc .)" "$(jq -c --slurpfile ids "$T/ids.json" --argjson n "$PARTS" '
    ($ids[0] | to_entries | map({(.value): (.key % $n)}) | add) as $part
    | [.contacts[] | select($part[.id] != null) | {p: $part[.id], t: .title}]
    | group_by(.p) | map([.[].t] | unique)' "$T/exp.laptop")" \
  "each part of the contacts carries its last acknowledged bulk edit"
# every acknowledged edit, on both devices: the last value per contact and field,
# and every note
jq -R -s 'split("\n") | map(select(length > 0) | split("\t"))
  | { fields: (map(select(.[1] != "note")) | reduce .[] as $e ({}; .[$e[0]][$e[1]] = $e[2])),
      notes: map(select(.[1] == "note") | {id: .[0], text: .[2]}) }' "$T/acked" >"$T/want.json"
for h in laptop phone; do
  lost=$(jq -c --slurpfile w "$T/want.json" '
    (.contacts | map({(.id): .}) | add) as $have
    | [ ($w[0].fields | to_entries[] | .key as $id | .value | to_entries[]
          | select(($have[$id][.key] // null) != .value) | "\($id) \(.key)=\(.value)"),
        ($w[0].notes[] | .text as $t | select([$have[.id].notes[]?.text] | index($t) | not)
          | "\(.id) note \(.text)") ]' "$T/exp.$h")
  check_eq "[]" "$lost" "the $h holds every acknowledged edit ($(wc -l <"$T/acked") recorded)"
done

# ---- LMDB: sound, and the reader slots of killed processes cleared on open -----------
for h in "$L" "$P"; do
  name=$(basename "$h")
  check "mdb_stat reads the $name's store" mdb_stat -a "$h" >/dev/null
  check "mdb_dump reads every database of the $name's store" mdb_dump -a "$h" >/dev/null
  # a kith process killed while another holds the store open leaves its reader
  # slot behind (with none open, the next opener resets the whole table)
  serve_start "$h" "$T/serve.$name" || finish
  timeout 30 "$KITH_BIN" --home "$h" invite --listen 127.0.0.1:0 >"$T/inv.out" 2>&1 &
  ip=$!
  wait_line "$T/inv.out" 1
  kill_group "$ip"
  if [ -n "$(dead_readers "$h")" ]; then
    pass "a killed kith leaves a stale reader in the $name's store"
  else
    skip "no stale reader in the $name's store after a kill (nothing to clear)"
  fi
  expect_ok kith_in "$h" whoami
  check_eq "" "$(dead_readers "$h")" "opening the $name's store clears its stale readers"
  serve_stop "$SERVE_PID"
  check_eq 0 "$?" "the $name's serve stops cleanly"
  check_eq "" "$(dead_readers "$h")" "no stale reader left in the $name's store"
  # kith's own commands still work on the store
  expect_ok kith_in "$h" contact add --name "After the kills on the $name"
  expect_ok kith_in "$h" --json contact list --search "After the kills"
  check_eq 1 "$(jq length <<<"$OUT")" "the $name's store still takes writes"
done
finish
