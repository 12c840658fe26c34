# Sync through relays and by file, end to end with the real binaries on 127.0.0.1:
# Ada's laptop and phone (linked), her partner Bea, a stranger Eve, and relays run
# with 'kith relay run'. The laptop deposits and stops; the phone starts later,
# fetches and converges; both directions; a partner through a relay; the relay's
# data folder never holds a contact's name; two relays with one killed (serve keeps
# going through the other); a relay killed -9 mid-deposit and restarted; a stranger
# fetching gets nothing of anyone's; over-quota and oversized deposits refused with
# clear errors; bundles: for the right device only, twice changes nothing, tampered
# refused.
. "$(dirname "$0")/lib.sh"

L=$T/laptop P=$T/phone B=$T/bea E=$T/eve

# relay_kill PID: kill -9 the relay itself (timeout(1) runs it as a child)
relay_kill()
{
  local child
  child=$(pgrep -P "$1")
  kill -9 "${child:-$1}" 2>/dev/null
  wait "$1" 2>/dev/null
}

export_of() { kith_in "$1" export --format json | jq -S 'del(.exported)'; }
same_devices()
{
  export_of "$L" >"$T/exp.l"
  export_of "$P" >"$T/exp.p"
  if cmp -s "$T/exp.l" "$T/exp.p"; then
    pass "$1: laptop and phone hold the same"
  else
    fail "$1: laptop and phone hold the same" "diff: $(show "$(diff "$T/exp.l" "$T/exp.p" | head -30)")"
  fi
}
name_of() { kith_in "$1" --json contact show "$2" | jq -r .name; }
# no_plaintext DIR WHAT: none of the names and addresses synced appear in DIR
no_plaintext()
{
  local hits
  hits=$(grep -r -a -c -i -E 'Grace Hopper|grace@navy|Alan Turing|Lovelace|Bletchley|Person 0|example\.org|US Navy' "$1" 2>/dev/null |
    awk -F: '{s += $NF} END {print s + 0}')
  check_eq 0 "$hits" "$2: the relay's data folder holds no name, e-mail, org or note"
}

expect_ok kith_in "$L" init --name Ada --device laptop
expect_ok kith_in "$B" init --name Bea --device tablet
expect_ok kith_in "$E" init --name Eve --device laptop
pair_homes "$L" "$P" --device --listen 127.0.0.1:0
pair_homes "$L" "$B" --listen 127.0.0.1:0

relay_start r1 || finish
R1=$RELAY_ADDR R1_PID=$RELAY_PID R1_PORT=${RELAY_ADDR##*:}

# ---- usage and the relay list -------------------------------------------------
expect_error 64 'address' kith_in "$L" relay add nowhere
expect_error 64 'address' kith_in "$L" sync --relay 300.1.1.1:5
expect_error 64 'one or the other' kith_in "$L" sync --relay "$R1" --addr "$R1"
expect_error 65 'not one of your relays' kith_in "$L" relay rm 127.0.0.1:9
expect_ok kith_in "$L" relay add "$R1"
expect_ok kith_in "$L" --json relay list
check_eq "[\"$R1\"]" "$(printf "%s" "$OUT" | jq -c .relays)" "relay list --json: mine"
expect_ok kith_in "$B" relay add "$R1"

# ---- the laptop deposits and stops; the phone fetches later ---------------------
expect_ok kith_in "$L" contact add --name "Grace Hopper" --email grace@navy.mil --org "US Navy"
G=$OUT
expect_ok kith_in "$L" contact add --name "Alan Turing" --tag mentor
A=$OUT
expect_ok kith_in "$L" note add "$A" "Met at Bletchley; wants an intro to Lovelace"
expect_ok kith_in "$L" --json sync --relay "$R1"
check_eq true "$(jqs .ok "$OUT")" "laptop sync --relay: ok"
check_eq 2 "$(jqs '.posted | length' "$OUT")" "the laptop posts for its phone and for Bea"
no_plaintext "$T/r1" "with mail waiting"
expect_ok kith_in "$P" --json sync --relay "$R1"
check_match '^[1-9]' "$(jqs .fetched.envelopes "$OUT")" "the phone fetched what the laptop left"
check_eq "Grace Hopper" "$(name_of "$P" "$G")" "the phone holds the laptop's contact"
expect_ok kith_in "$L" sync --relay "$R1" # the phone's acknowledgement
same_devices "after one trip each way"

# both directions: the phone edits, the laptop fetches
expect_ok kith_in "$P" contact set "$G" title=Rear\ Admiral
expect_ok kith_in "$P" sync --relay "$R1"
expect_ok kith_in "$L" --json sync --relay "$R1"
check_eq '"Rear Admiral"' "$(kith_in "$L" --json contact show "$G" | jq .title)" \
  "the laptop holds the phone's edit"
expect_ok kith_in "$P" sync --relay "$R1"
same_devices "after edits both ways"
# nothing new: a round moves no records either way
expect_ok kith_in "$P" --json sync --relay "$R1"
check_eq 0 "$(jqs '.fetched.records' "$OUT")" "a quiet round fetches no records"
check_eq 0 "$(jqs '[.posted[].records] | add // 0' "$OUT")" "a quiet round posts no records"

# ---- a partner through the relay -----------------------------------------------
expect_ok kith_in "$L" share "$G" --with Bea
expect_ok kith_in "$L" sync --relay "$R1"
expect_ok kith_in "$B" --json sync --relay "$R1"
check_eq "Grace Hopper" "$(name_of "$B" "$G")" "Bea holds the shared card"
check_eq 1 "$(kith_in "$B" --json contact list | jq length)" "and nothing else of Ada's"
expect_exit 65 kith_in "$B" contact show "$A" # never shared: not there
expect_ok kith_in "$B" --json relay list
check_eq "[\"$R1\"]" "$(printf "%s" "$OUT" | jq -c '.partners[0].relays')" "Bea sees where Ada fetches"
no_plaintext "$T/r1" "after partner mail"

# ---- a stranger gets nothing of anyone's ----------------------------------------
expect_ok kith_in "$L" contact set "$G" phone=+1-555-0100 # mail for Bea waits
expect_ok kith_in "$L" sync --relay "$R1"
expect_ok kith_in "$E" --json sync --relay "$R1"
check_eq 0 "$(jqs .fetched.envelopes "$OUT")" "Eve fetching at the same relay gets nothing"
expect_ok kith_in "$B" --json sync --relay "$R1"
check_eq '["+1-555-0100"]' "$(kith_in "$B" --json contact show "$G" | jq -c .phones)" \
  "Bea's mail was still there for her after Eve's fetch"

# ---- two relays, one killed: serve keeps going through the other ----------------
relay_start r2 || finish
R2=$RELAY_ADDR R2_PID=$RELAY_PID
expect_ok kith_in "$L" relay add "$R2"
expect_ok kith_in "$L" sync --relay "$R1" # the list reaches the phone...
expect_ok kith_in "$P" sync --relay "$R1"
expect_ok kith_in "$P" --json relay list
check_eq "$(printf '%s\n' "$R1" "$R2" | sort | jq -R . | jq -sc .)" "$(printf "%s" "$OUT" | jq -c .relays)" \
  "the phone holds both relays of Ada's list"
relay_kill "$R1_PID"
expect_ok kith_in "$L" contact add --name "Ada Lovelace"
LOVELACE=$OUT
KITH_RELAY_POLL_MS=300 serve_start "$L" "$T/serve.l" || finish
L_SERVE=$SERVE_PID
wait_event "$T/serve.l" relay_failed 20 || fail "serve reports the dead relay" "$(cat "$T/serve.l")"
wait_event "$T/serve.l" relay_posted 20 || fail "serve posts through the live relay" "$(cat "$T/serve.l")" "$(cat "$T/serve.l.err")"
check_contains "$(grep -F relay_failed "$T/serve.l" | head -1)" "$R1" "the failure names the dead relay"
expect_ok kith_in "$P" --json sync --relay "$R2"
check_eq "Ada Lovelace" "$(name_of "$P" "$LOVELACE")" "the phone gets it through the other relay"
serve_stop "$L_SERVE"

# ---- a relay killed -9 mid-deposit, restarted on its data -------------------------
PORT=$R1_PORT relay_start r1 || finish
R1_PID=$RELAY_PID
python3 - "$T/big.json" <<'PY' || fail "make a big import"
import json, sys
people = [{"name": "Person %05d" % i, "emails": ["p%05d@example.org" % i],
           "org": "Org %d" % (i % 97), "title": "Title %d" % (i % 13)} for i in range(20000)]
json.dump({"contacts": people}, open(sys.argv[1], "w"))
PY
expect_ok kith_in "$L" import "$T/big.json" --format json
# ---- limits, first: over quota, oversized (what they took is sent again later) ----
relay_start r3 --box-quota 64K || finish
R3=$RELAY_ADDR
expect_error 77 'refused a deposit.*(full|quota)' kith_in "$L" sync --relay "$R3"
relay_start r4 --max-envelope 2000 || finish
R4=$RELAY_ADDR
expect_error 77 'refused a deposit.*(big|large)' kith_in "$L" sync --relay "$R4"
expect_error 69 'relay 127.0.0.1:1' kith_in "$L" sync --relay 127.0.0.1:1
timeout 60 "$KITH_BIN" --home "$L" sync --relay "$R1" >"$T/mid.out" 2>"$T/mid.err" &
MID=$!
sleep 0.3
relay_kill "$R1_PID"
wait "$MID"
MID_RC=$?
check_match '^(0|69)$' "$MID_RC" "a sync whose relay dies mid-deposit ends (0 or 69), exit $MID_RC"
if [ "$MID_RC" != 0 ]; then
  check_eq 1 "$(wc -l <"$T/mid.err")" "and says so in one line: $(cat "$T/mid.err")"
fi
PORT=$R1_PORT relay_start r1 || finish
R1_PID=$RELAY_PID
expect_ok kith_in "$L" sync --relay "$R1"
for i in 1 2 3; do
  expect_ok kith_in "$P" sync --relay "$R1"
  expect_ok kith_in "$L" sync --relay "$R1"
done
check_eq 20003 "$(kith_in "$P" --json contact list | jq length)" \
  "the phone holds all 20,003 contacts after the relay's kill -9"
same_devices "after a relay killed mid-deposit"
no_plaintext "$T/r1" "after 20,000 contacts through it"
no_plaintext "$T/r2" "the second relay"

# ---- bundles ---------------------------------------------------------------------
expect_ok kith_in "$L" contact add --name "Bundle Person"
BP=$OUT
expect_ok kith_in "$L" share "$BP" --with Bea
expect_ok kith_in "$L" --json bundle export --to Bea -o "$T/for-bea.kith"
check_eq 1 "$(jqs .devices "$OUT")" "a bundle for Bea's one device"
expect_ok kith_in "$B" --json bundle import "$T/for-bea.kith"
check_eq "Bundle Person" "$(name_of "$B" "$BP")" "Bea holds the bundle's card"
export_of "$B" >"$T/bea.before"
expect_ok kith_in "$B" bundle import "$T/for-bea.kith"
export_of "$B" >"$T/bea.after"
check "importing a bundle twice changes nothing" cmp -s "$T/bea.before" "$T/bea.after"
expect_error 77 'not for this device' kith_in "$P" bundle import "$T/for-bea.kith"
expect_error 77 'not for this device' kith_in "$E" bundle import "$T/for-bea.kith"
cp "$T/for-bea.kith" "$T/tampered.kith"
printf '\x55' | dd of="$T/tampered.kith" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_error 65 'refused' kith_in "$B" bundle import "$T/tampered.kith"
echo "hello" >"$T/not-a-bundle"
expect_error 65 'not a kith bundle' kith_in "$B" bundle import "$T/not-a-bundle"
head -c 300 "$T/for-bea.kith" >"$T/cut.kith"
expect_error 65 'cut short' kith_in "$B" bundle import "$T/cut.kith"
expect_error 74 'cannot write' kith_in "$L" bundle export --to Bea -o "$T/no/such/dir/f"
expect_error 65 "no device known|no peer" kith_in "$L" bundle export --to Nobody -o "$T/x"
# and back: Bea's answer by bundle, the laptop imports it
expect_ok kith_in "$B" bundle export --to Ada -o "$T/for-ada.kith"
expect_ok kith_in "$L" bundle import "$T/for-ada.kith"
finish
