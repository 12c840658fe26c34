# Pairing through a relay's rendezvous, with the real binaries on 127.0.0.1: Ada
# waits at a relay ('kith invite --relay'), Bea joins by the code alone (it names
# the relay, not Ada); both pinned, the same safety number on both sides. A new
# device of Ada's linked the same way holds her contacts once its join's first sync
# ran through the relay. Refusals, each one line: a code used once already, a code
# nobody waits with, a relay that is down (for both sides), --relay with --listen.
# The invite outlives the relay's wait limit (a relay with 1-second waits), and
# expires on time; the relay's data folder never holds a name.
. "$(dirname "$0")/lib.sh"

A=$T/ada B=$T/bea P=$T/phone

# relay_stop PID: SIGTERM to the relay itself (timeout(1) runs it as a child)
relay_stop()
{
  local child
  child=$(pgrep -P "$1")
  kill -TERM "${child:-$1}" 2>/dev/null
  wait "$1" 2>/dev/null
}

# invite_bg NAME HOME ARGS...: kith --home HOME invite ARGS in the background, output
# in $T/NAME.out and .err; sets INV_PID and, once printed (within 10 s), CODE (the
# first line; with --json its "code").
invite_bg()
{
  local name=$1 home=$2; shift 2
  : >"$T/$name.out"
  timeout 60 "$KITH_BIN" --home "$home" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  INV_PID=$!
  CODE=
  if ! wait_line "$T/$name.out" 1; then
    fail "invite $name printed a code" "stderr: $(show "$(cat "$T/$name.err")")"
    return 1
  fi
  CODE=$(head -1 "$T/$name.out")
  case $CODE in "{"*) CODE=$(jq -r .code <<<"$CODE") ;; esac
}

expect_ok kith_in "$A" init --name "Adalind Quorra" --device laptop
expect_ok kith_in "$B" init --name "Beatrix Vantongeren" --device phone
expect_ok kith_in "$A" contact add --name "Grace Hopper" --email grace@navy.mil --org "US Navy"
G=$OUT
expect_ok kith_in "$A" contact add --name "Alan Turing" --tag mentor
expect_ok kith_in "$A" note add "$OUT" "Met at Bletchley; wants an intro to Lovelace"

relay_start r1 || finish
R1=$RELAY_ADDR R1_PID=$RELAY_PID

# ---- usage ---------------------------------------------------------------------------
expect_error 64 'one or the other' kith_in "$A" invite --relay "$R1" --listen 127.0.0.1:0
expect_error 64 'relay address' kith_in "$A" invite --relay nowhere
expect_error 64 'relay address' kith_in "$A" invite --relay 127.0.0.1:0
expect_error 64 'relay address' kith_in "$A" invite --relay 0.0.0.0:5484

# ---- partners, through the relay -----------------------------------------------------
invite_bg inv1 "$A" --json invite --relay "$R1" || finish
inv1_pid=$INV_PID
check_match '^[0-9A-Z]{5}(-[0-9A-Z]{1,5})+$' "$CODE" "invite --relay prints a grouped code first"
check_eq 1 "$(wc -l <"$T/inv1.out")" "... and nothing more while it waits"
code1=$CODE
expect_ok kith_in "$B" --json join "$code1"
check_eq paired "$(jqs .event "$OUT")" "join through the relay reports the pairing"
check_eq partner "$(jqs .as "$OUT")" "... as partners"
check_eq "Adalind Quorra" "$(jqs .peer.name "$OUT")" "the joiner learns the inviter's name"
check_eq true "$(jqs .synced "$OUT")" "the first sync ran through the relay too"
safety_join=$(jqs .safety_number "$OUT")
wait "$inv1_pid"
check_eq 0 "$?" "invite --relay exits 0 once someone joined"
check_eq paired "$(sed -n 2p "$T/inv1.out" | jq -r .event)" "the inviter reports the pairing"
check_eq "Beatrix Vantongeren" "$(sed -n 2p "$T/inv1.out" | jq -r .peer.name)" \
  "the inviter learns the joiner's name"
check_eq "$safety_join" "$(sed -n 2p "$T/inv1.out" | jq -r .safety_number)" \
  "both sides printed the same safety number"

expect_ok kith_in "$A" --json peer list
check_eq '["Beatrix Vantongeren"]' "$(jq -c '[.[].name]' <<<"$OUT")" "Ada's peer list: Bea"
expect_ok kith_in "$B" --json peer list
check_eq '["Adalind Quorra"]' "$(jq -c '[.[].name]' <<<"$OUT")" "Bea's peer list: Ada"
expect_ok kith_in "$A" --json peer verify Beatrix
safety_a=$(jqs .safety_number "$OUT")
expect_ok kith_in "$B" --json peer verify Adalind
check_match '^[0-9]{5}( [0-9]{5}){11}$' "$safety_a" "a safety number"
check_eq "$safety_a" "$(jqs .safety_number "$OUT")" "peer verify: the same safety number on both sides"
check_eq "$safety_a" "$safety_join" "... and the one join printed"

# ---- a code works once: the relay spent its tag on the first join ---------------------
expect_error 77 'no one is waiting with this code at relay' kith_in "$B" join "$code1"

# ---- nobody waiting: the invite expired at the relay before anyone joined ------------
run timeout 20 "$KITH_BIN" --home "$A" invite --relay "$R1" --expires 1s
check_eq 75 "$RC" "an invite --relay nobody used exits 75 when it expires"
check_match '^[0-9A-Z]{5}(-[0-9A-Z]{1,5})+$' "$(head -1 "$T/out")" "its code was printed first"
check_contains "$ERR" "expired before anyone joined" "it says the invite expired"
expect_error 77 "no one is waiting with this code at relay $R1: the invite ended" \
  kith_in "$B" join "$(head -1 "$T/out")"

# ---- a new device of Ada's, linked through the relay, holds her contacts --------------
invite_bg inv2 "$A" invite --device --relay "$R1" --qr || finish
inv2_pid=$INV_PID
check "the QR code follows the code" grep -q '█' "$T/inv2.out"
expect_ok kith_in "$P" --json join "$CODE"
check_eq device "$(jqs .as "$OUT")" "a device code links a device through the relay"
check_eq true "$(jqs .synced "$OUT")" "its first sync finished"
wait "$inv2_pid"
check_eq 0 "$?" "invite --device --relay exits 0"
check_eq "Grace Hopper" "$(kith_in "$P" --json contact show "$G" | jq -r .name)" \
  "the new device holds the inviter's contact after the join"
check_eq 2 "$(count_contacts "$P")" "... both of them"
check_eq 1 "$(count_notes "$P")" "... and the note"
expect_ok kith_in "$P" --json device list
check_eq 2 "$(jqs length "$OUT")" "the new device lists two devices"
expect_ok kith_in "$A" --json device list
check_eq 2 "$(jqs length "$OUT")" "so does the inviter"

# ---- the invite outlives the relay's wait limit ---------------------------------------
# Waits at r2 end after 1 s (at its next 1-s tick: a round lasts 1 to 2 s), so by
# 3.5 s the invite is in its second round at least; a joiner that lands in the few
# milliseconds between two rounds finds nobody, hence up to 3 tries.
KITH_RELAY_WAIT_MS=1000 relay_start r2 || finish
R2=$RELAY_ADDR R2_PID=$RELAY_PID
expect_ok kith_in "$T/cy" init --name "Cyrielle Okonkwo"
invite_bg inv3 "$A" invite --relay "$R2" --expires 30s || finish
inv3_pid=$INV_PID
sleep 3.5
for try in 1 2 3; do
  run kith_in "$T/cy" join "$CODE"
  [ "$RC" = 77 ] || break
  sleep 0.3
done
check_eq 0 "$RC" "a join after the relay ended the first wait still pairs (stderr: $ERR)"
wait "$inv3_pid"
check_eq 0 "$?" "the invite waited again and paired"
check_eq "" "$(grep -v '^Waiting at relay' "$T/inv3.err")" "the inviter wrote no error"

# ---- the relay is down ----------------------------------------------------------------
invite_bg inv4 "$A" invite --relay "$R1" || finish
code4=$CODE inv4_pid=$INV_PID
relay_stop "$R1_PID"
wait "$inv4_pid"
check_eq 69 "$?" "invite --relay exits 69 when it loses its relay"
check_eq 2 "$(wc -l <"$T/inv4.err")" "the waiting line, then one error line"
check_match "^kith: .*relay $R1" "$(tail -1 "$T/inv4.err")" "the error names the relay"
expect_error 69 "cannot reach the inviter \\(tried relay $R1\\)" kith_in "$B" join "$code4"
expect_error 69 "cannot reach the relay at $R1" kith_in "$A" invite --relay "$R1"

# ---- what the relays kept -------------------------------------------------------------
for r in r1 r2; do
  hits=$(grep -r -a -c -i -E 'Adalind|Quorra|Beatrix|Vantongeren|Cyrielle|Okonkwo|Grace Hopper|grace@navy|Alan Turing|Bletchley|Lovelace|US Navy' "$T/$r" 2>/dev/null |
    awk -F: '{s += $NF} END {print s + 0}')
  check_eq 0 "$hits" "$r's data folder holds no name, e-mail, org or note"
done
relay_stop "$R2_PID"
finish
