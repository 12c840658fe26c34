# relay_server.sh — the real 'kith relay run' binary: it needs no 'kith init',
# prints where it listens (the real port for port 0) and its key; deposits made
# with a raw client ($KITH_RELAY_TOOL, tests/relay_tool.c) come back to their owner
# only; a relay killed with SIGKILL while deposits stream in, restarted on the same
# data folder, still holds every deposit it acknowledged (same key, eids going on);
# deletes; expiry (--ttl); usage errors, an address in use, SIGTERM.
. "$(dirname "$0")/lib.sh"

if [ -z "${KITH_RELAY_TOOL:-}" ] || [ ! -x "$KITH_RELAY_TOOL" ]; then
  echo "KITH_RELAY_TOOL must name the built relay_tool (got '${KITH_RELAY_TOOL:-}')" >&2
  exit 1
fi
tool() { timeout -k 5 60 "$KITH_RELAY_TOOL" "$@"; }

DATA=$T/relay-data
RELAY_PID= RELAY_ADDR= RELAY_KEY=

# relay_start OUT [ARGS...]: kith relay run in its own process group (so a SIGKILL
# reaches kith itself), waits for 'listening'
relay_start()
{
  local out=$1; shift
  : >"$out"
  setsid "$KITH_BIN" --home "$KHOME" relay run --listen 127.0.0.1:0 "$@" \
    >"$out" 2>"$out.err" &
  RELAY_PID=$!
  if ! wait_event "$out" listening; then
    fail "relay says where it listens" "stdout: $(show "$(cat "$out")")" \
      "stderr: $(show "$(cat "$out.err")")"
    return 1
  fi
  local line
  line=$(grep -F '"event":"listening"' "$out" | head -1)
  RELAY_ADDR=$(jqs .addr "$line")
  RELAY_KEY=$(jqs .key "$line")
}

relay_stop()
{
  kill -TERM "$RELAY_PID" 2>/dev/null
  wait "$RELAY_PID"
}

# ---- usage errors ---------------------------------------------------------------
expect_error 64 "missing --listen" kith relay run
expect_error 64 "bad address" kith relay run --listen nowhere
expect_error 64 "bad --max-envelope" kith relay run --listen 127.0.0.1:0 --max-envelope 0
expect_error 64 "bad --ttl" kith relay run --listen 127.0.0.1:0 --ttl 3x
expect_error 64 "unknown relay command" kith relay launch
expect_ok kith relay run --help
check_contains "$OUT" "--owner-quota" "relay run --help lists the limits"

# ---- start: no kith init, the real port, a key ------------------------------------
relay_start "$T/r1.out" --data "$DATA" || finish
check_match '^127\.0\.0\.1:[1-9][0-9]*$' "$RELAY_ADDR" "listening gives the real port"
check_match '^[0-9a-f]{64}$' "$RELAY_KEY" "listening gives the relay's key"
check "no kith store was needed" test ! -e "$KHOME/data.mdb"
check "the data folder holds the relay's store" test -f "$DATA/data.mdb"
KEY1=$RELAY_KEY

# an address in use: 69, one line
expect_error 69 "address already in use" kith relay run --listen "$RELAY_ADDR" \
  --data "$T/other-data"

OWNER=$(tool keygen)
OSK=$(jqs .sk "$OWNER") OPK=$(jqs .pk "$OWNER")
STRANGER=$(tool keygen)
BOX=00112233445566778899aabbccddeeff

# ---- deposits, fetched by their owner only ------------------------------------------
expect_ok tool put "$RELAY_ADDR" "$OPK" "$BOX" 5 3000
check_eq 5 "$(printf '%s\n' "$OUT" | jq -s 'map(select(.eid)) | length')" \
  "five deposits acknowledged"
FIRST=$OUT
expect_ok tool fetch "$RELAY_ADDR" "$(jqs .sk "$STRANGER")"
check_eq "" "$OUT" "another key fetches nothing"
expect_ok tool fetch "$RELAY_ADDR" "$OSK"
check_eq "$(printf '%s\n' "$FIRST" | jq -s -c 'map(.eid)')" \
  "$(printf '%s\n' "$OUT" | jq -s -c 'map(.eid)')" "the owner fetches them, in order"
check_eq '[3000,true,"00112233445566778899aabbccddeeff"]' \
  "$(printf '%s\n' "$OUT" | jq -s -c '[.[4].size, (map(.ok) | all), .[0].box]')" \
  "whole, in their box"

# ---- kill -9 while deposits stream in ----------------------------------------------
BOX2=ffeeddccbbaa99887766554433221100
tool put "$RELAY_ADDR" "$OPK" "$BOX2" 400 2000 >"$T/acks" 2>"$T/acks.err" &
PUT_PID=$!
wait_line "$T/acks" 30 20 || fail "deposits were acknowledged while streaming" \
  "acks: $(show "$(cat "$T/acks")")" "stderr: $(show "$(cat "$T/acks.err")")"
{ kill -9 "$RELAY_PID"; wait "$RELAY_PID"; } 2>/dev/null
wait "$PUT_PID"
check_eq 1 "$?" "the depositor saw the relay go"
ACKED=$(jq -s -c 'map(select(.eid)) | map(.eid)' "$T/acks")
NACKED=$(jqs 'length' "$ACKED")
check_match '^[0-9]+$' "$NACKED" "acknowledged deposits counted ($NACKED)"
[ "$NACKED" -lt 400 ] || skip "all 400 deposits were acknowledged before the kill"

relay_start "$T/r2.out" --data "$DATA" || finish
check_eq "$KEY1" "$RELAY_KEY" "the same relay after a restart (same key)"
# the killed relay's reader slot is cleared when the store is opened again
if command -v mdb_stat >/dev/null; then
  dead=
  for pid in $(mdb_stat -r "$DATA" | awk '$1 ~ /^[0-9]+$/ { print $1 }'); do
    [ -d "/proc/$pid" ] || dead="$dead $pid"
  done
  check_eq "" "$dead" "no reader slot of a dead process is left"
else
  skip "mdb_stat (lmdb-utils) is not installed: reader slots not checked"
fi
expect_ok tool fetch "$RELAY_ADDR" "$OSK"
HELD=$(printf '%s\n' "$OUT" | jq -s -c 'map(.eid)')
check_eq "[]" "$(jq -n -c --argjson a "$ACKED" --argjson h "$HELD" '$a - $h')" \
  "every deposit acknowledged before the kill is there"
check_eq "true" "$(printf '%s\n' "$OUT" | jq -s '[.[] | select(.size == 2000)] | map(.ok) | all')" \
  "and whole"
# each acknowledged deposit i holds byte i % 256
check_eq "[]" "$(jq -s -c 'map(select(.eid)) | map({eid, byte: (.i % 256)})' "$T/acks" |
  jq -c --argjson got "$(printf '%s\n' "$OUT" | jq -s -c 'map({eid, byte})')" '. - $got')" \
  "each one's own bytes"

# new deposits get new eids
expect_ok tool put "$RELAY_ADDR" "$OPK" "$BOX" 1 10
NEW=$(jqs .eid "$OUT")
check "eids go on after the restart" test "$NEW" -gt "$(jqs 'max' "$HELD")"

# ---- delete ---------------------------------------------------------------------------
expect_ok tool fetch "$RELAY_ADDR" "$OSK" --del
expect_ok tool fetch "$RELAY_ADDR" "$OSK"
check_eq "" "$OUT" "deleted mail is gone"

# ---- SIGTERM: a clean stop ------------------------------------------------------------
relay_stop
check_eq 0 "$?" "SIGTERM stops the relay with exit 0"
check_eq stopped "$(tail -1 "$T/r2.out" | jq -r .event)" "and it says so"

# ---- expiry -------------------------------------------------------------------------
relay_start "$T/r3.out" --data "$T/short" --ttl 1s || finish
check_eq 1 "$(jq -r 'select(.event == "listening") | .ttl_s' "$T/r3.out")" "--ttl 1s"
expect_ok tool put "$RELAY_ADDR" "$OPK" "$BOX" 2 100
sleep 2.2
expect_ok tool fetch "$RELAY_ADDR" "$OSK"
check_eq "" "$OUT" "unfetched mail expires"
relay_stop

finish
