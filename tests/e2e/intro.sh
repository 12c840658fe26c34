# Introductions end to end, with the real binary and real homes on 127.0.0.1: Ada
# introduces her partners Bea and Cy (Ada serves; they sync with her). Bea accepts
# first, and Cy holds nothing of Bea's until Cy accepts too; then each holds the
# other's details as a contact (with who introduced them) and a pending peer; both
# confirm and sync directly, without an invite. Then, with Dee and Eve: a decline
# (Dee's view is the same as after an expiry), a withdrawal, an expiry and an
# accept after it refused; and the same flow through a relay, with Eve offline
# until the end.
. "$(dirname "$0")/lib.sh"

A=$T/ada B=$T/bea C=$T/cy D=$T/dee E=$T/eve

# sync_with HOME ADDR: one round that must succeed
sync_with()
{
  expect_ok kith_in "$1" --json sync --addr "$2"
  check_eq true "$(jqs '[.syncs[].ok] | all' "$OUT")" \
    "sync from $(basename "$1") to $2: every link committed"
}
# rounds ADDR HOME...: each home syncs with ADDR, five times over (a completion
# takes four: answer, vouch, seal, forward)
rounds()
{
  local addr=$1 i h; shift
  for i in 1 2 3 4 5; do for h in "$@"; do sync_with "$h" "$addr"; done; done
}
# the one introduction HOME sees, as JSON: its newest in the list is enough here
intro_of() { kith_in "$1" --json intro list | jq -c "[.[] | select(.id == \"$2\")][0]"; }
# pid_of HOME: PID gets the proposal HOME got last, the one not seen before (ids
# are random, not in order)
SEEN=
pid_of()
{
  local id
  id=$(kith_in "$1" --json intro list |
    jq -r --arg seen "$SEEN" '[.[] | select(.role == "party") | .id
      | select(. as $i | $seen | contains($i) | not)][0]')
  SEEN="$SEEN $id"
  PID=$id
}
status_of() { intro_of "$1" "$2" | jq -r .status; }
key_of() { kith_in "$1" --json whoami | jq -r .public_key; }
# everything HOME shows: contacts, peers, an export
everything() {
  kith_in "$1" --json contact list
  kith_in "$1" --json peer list
  kith_in "$1" export --format json
}

for h in A B C D E; do
  name=$(basename "${!h}")
  expect_ok kith_in "${!h}" init --name "${name^}" --device "$name-laptop"
done
for h in B C D E; do pair_homes "$A" "${!h}" --listen 127.0.0.1:0; done
KB=$(key_of "$B") KC=$(key_of "$C") KD=$(key_of "$D") KE=$(key_of "$E")
# their cards: what an introduction gives, the fields each chooses
expect_ok kith_in "$B" card set "name=Bea Lopez" email=work:bea@example.org "phone=+1 555 0100"
expect_ok kith_in "$C" card set "name=Cy Young" email=cy@example.org "phone=+1 555 0199"
expect_ok kith_in "$D" card set email=dee@example.org
expect_ok kith_in "$E" card set email=eve@example.org

serve_start "$A" "$T/serve.a" || finish
ADDR=$SERVE_ADDR
rounds "$ADDR" "$B" "$C" "$D" "$E"

# ---- usage and errors --------------------------------------------------------------
expect_ok kith_in "$A" intro --help
check_contains "$OUT" "not_going_ahead" "intro --help lists the statuses"
expect_error 64 'two parties' kith_in "$A" intro propose Bea
expect_error 64 'DURATION' kith_in "$A" intro propose Bea Cy --expires soon
expect_error 65 "no peer or contact 'Zed'" kith_in "$A" intro propose Bea Zed
expect_error 65 'two different people' kith_in "$A" intro propose Bea Bea
expect_error 65 "no introduction" kith_in "$B" intro accept ffff
expect_error 64 'unknown subcommand' kith_in "$A" intro frobnicate

# ---- propose; Bea accepts; Cy holds nothing of Bea's; Cy accepts ------------------
expect_ok kith_in "$A" --json intro propose Bea Cy --message "Cy hires designers" \
  --message "Bea designs"
I1=$(jqs .id "$OUT")
check_match '^[0-9a-f]{32}$' "$I1" "propose prints the intro's id"
check_eq proposed "$(jqs .status "$OUT")" "a new introduction is proposed"
check_eq "pending pending" "$(jqs '[.parties[].answer] | join(" ")' "$OUT")" "... both answers pending"
rounds "$ADDR" "$B" "$C"
pid_of "$B"; PB=$PID; pid_of "$C"; PC=$PID
j=$(intro_of "$B" "$PB")
check_eq '"proposed" "Ada" "Cy" "Cy hires designers"' \
  "$(jq -r '[.status, .introducer, .other_name, .message] | map(@json) | join(" ")' <<<"$j")" \
  "Bea sees Ada's proposal: Cy's name and her message, nothing else"
check_not_contains "$(kith_in "$B" --json intro list)" "Bea designs" "Bea does not see Ada's message for Cy"
check_not_contains "$(everything "$B")" "$KC" "Bea holds no key of Cy's"
check_not_contains "$(everything "$B")" "cy@example.org" "... no e-mail of Cy's"
expect_error 65 'not yours to answer' kith_in "$A" intro accept "$PB"
expect_error 64 'contact party' kith_in "$A" intro accept "$I1"
expect_error 65 'field' kith_in "$B" intro accept "$PB" --share tags
expect_ok kith_in "$B" --json intro accept "$PB" --share name,emails
check_eq accepted "$(jqs .status "$OUT")" "Bea's answer: accepted"
rounds "$ADDR" "$B" "$C"
check_eq "accepted pending" "$(intro_of "$A" "$I1" | jq -r '[.parties[].answer] | join(" ")')" \
  "Ada sees Bea's answer, and Cy's pending"
check_eq proposed "$(status_of "$C" "$PC")" "Cy still sees a plain proposal"
e=$(everything "$C")
check_not_contains "$e" "$KB" "Cy holds no key of Bea's (contacts, peers, export)"
check_not_contains "$e" "bea@example.org" "... no e-mail of Bea's"
check_not_contains "$e" "555 0100" "... no phone of Bea's"
check_not_contains "$e" "Lopez" "... not her card's full name"
check_eq "Ada" "$(kith_in "$C" --json peer list | jq -r '[.[].name] | join(" ")')" \
  "Cy's peers: Ada only"
check_eq 0 "$(kith_in "$C" --json contact list | jq length)" "Cy has no contact yet"
expect_ok kith_in "$C" intro accept "$PC"
rounds "$ADDR" "$B" "$C"
check_eq completed "$(status_of "$A" "$I1")" "Ada's introduction is completed"
check_eq completed "$(status_of "$B" "$PB")" "Bea's side is completed"
check_eq completed "$(status_of "$C" "$PC")" "Cy's side is completed"
cb=$(intro_of "$C" "$PC" | jq -r .contact)
check_eq '"Bea Lopez" ["bea@example.org"] {"emails":{"bea@example.org":"work"}} []' \
  "$(kith_in "$C" --json contact show "$cb" | jq -c '.name, .emails, .kinds, .phones' | paste -sd ' ')" \
  "Cy holds Bea as a contact: the name and e-mail she chose to give (with its kind), no phone"
expect_ok kith_in "$C" contact show "$cb"
check_contains "$OUT" "Introduced by Ada, on " "... with who introduced them"
check_contains "$OUT" "because Bea designs" "... and why"
bc=$(intro_of "$B" "$PB" | jq -r .contact)
check_eq '"Cy Young" [] []' \
  "$(kith_in "$B" --json contact show "$bc" | jq -c '.name, .emails, .phones' | paste -sd ' ')" \
  "Bea holds Cy as a contact: his name only, as he chose"
check_eq pending "$(kith_in "$C" --json peer list | jq -r '.[] | select(.name == "Bea Lopez") | .status')" \
  "Cy has Bea as a pending peer"
check_eq "$KB" "$(kith_in "$C" --json peer list | jq -r '.[] | select(.name == "Bea Lopez") | .public_key')" \
  "... with Bea's key, as Ada vouched for it"
check_eq pending "$(kith_in "$B" --json peer list | jq -r '.[] | select(.name == "Cy Young") | .status')" \
  "Bea has Cy as a pending peer"

# ---- both confirm, then sync directly -------------------------------------------
expect_ok kith_in "$B" --json peer confirm Cy
check_eq confirmed "$(jqs .status "$OUT")" "Bea confirms Cy"
expect_ok kith_in "$C" peer confirm Bea
serve_start "$B" "$T/serve.b" || finish
ADDR_B=$SERVE_ADDR SERVE_B=$SERVE_PID
sync_with "$C" "$ADDR_B"
check_eq partner "$(jqs '.syncs[0].as' "$OUT")" "Cy syncs with Bea directly, as a partner, no invite"
serve_stop "$SERVE_B"

# ---- Dee and Eve: a decline, then an expiry: Dee can't tell them apart ------------
expect_ok kith_in "$A" --json intro propose Dee Eve -m "meet Eve"
I2=$(jqs .id "$OUT")
rounds "$ADDR" "$D" "$E"
pid_of "$D"; PD=$PID; pid_of "$E"; PE=$PID
expect_ok kith_in "$D" intro accept "$PD" --share emails
expect_ok kith_in "$E" --json intro decline "$PE"
check_eq not_going_ahead "$(jqs .status "$OUT")" "Eve's own view after declining"
rounds "$ADDR" "$D" "$E"
check_eq declined "$(status_of "$A" "$I2")" "Ada learns of the decline"
check_eq "accepted declined" "$(intro_of "$A" "$I2" | jq -r '[.parties[].answer] | join(" ")')" \
  "... and who declined"
check_eq not_going_ahead "$(status_of "$D" "$PD")" "Dee sees only that it did not go ahead"
check_not_contains "$(everything "$D")" "$KE" "Dee holds nothing of Eve's (no key)"
declined=$(intro_of "$D" "$PD" | jq -c 'del(.id, .expires)')
expect_error 65 'closed' kith_in "$D" intro accept "$PD"

t0=$(date +%s)
expect_ok kith_in "$A" --json intro propose Dee Eve -m "meet Eve" --expires 6s
I3=$(jqs .id "$OUT")
sync_with "$D" "$ADDR"
sync_with "$E" "$ADDR"
pid_of "$D"; PD3=$PID; pid_of "$E"; PE3=$PID
expect_ok kith_in "$D" intro accept "$PD3" --share emails
while [ $(($(date +%s) - t0)) -le 7 ]; do sleep 0.5; done
expect_error 65 'expired' kith_in "$E" intro accept "$PE3"
rounds "$ADDR" "$D" "$E"
check_eq expired "$(status_of "$A" "$I3")" "Ada sees it expired"
expired=$(intro_of "$D" "$PD3" | jq -c 'del(.id, .expires)')
check_eq "$declined" "$expired" "Dee's view after a decline is the same as after an expiry"
check_not_contains "$(everything "$D")" "$KE" "Dee still holds nothing of Eve's"

# ---- a withdrawal -------------------------------------------------------------------
expect_ok kith_in "$A" --json intro propose Dee Eve
I4=$(jqs .id "$OUT")
rounds "$ADDR" "$D" "$E"
pid_of "$D"; pid_of "$E"; PE4=$PID
expect_ok kith_in "$A" --json intro withdraw "$I4"
check_eq withdrawn "$(jqs .status "$OUT")" "withdraw: the introduction is withdrawn"
expect_error 65 'withdrawn already' kith_in "$A" intro withdraw "$I4"
rounds "$ADDR" "$D" "$E"
check_eq not_going_ahead "$(status_of "$E" "$PE4")" "Eve sees it did not go ahead"
expect_error 65 'closed' kith_in "$E" intro accept "$PE4"

# ---- a party without kith: Ada records Zoe's consent -------------------------------
z=$(kith_in "$A" contact add --name "Zoe Offline" --email zoe@example.org --tag mine)
expect_ok kith_in "$A" --json intro propose Bea Zoe -m "Zoe needs a designer"
I6=$(jqs .id "$OUT")
check_eq "peer contact" "$(jqs '[.parties[].kind] | join(" ")' "$OUT")" "Zoe is a contact party"
expect_error 65 'answer themselves' kith_in "$A" intro accept "$I6" --for Bea
rounds "$ADDR" "$B"
pid_of "$B"; PB6=$PID
expect_ok kith_in "$B" intro accept "$PB6"
expect_ok kith_in "$A" --json intro accept "$I6" --for Zoe --share emails
check_eq "pending accepted" "$(jqs '[.parties[].answer] | join(" ")' "$OUT")" \
  "Ada recorded Zoe's consent"
rounds "$ADDR" "$B"
check_eq completed "$(status_of "$B" "$PB6")" "Bea's side of the introduction to Zoe is completed"
bz=$(intro_of "$B" "$PB6" | jq -r .contact)
check_eq '"Zoe Offline" ["zoe@example.org"] []' \
  "$(kith_in "$B" --json contact show "$bz" | jq -c '.name, .emails, .tags' | paste -sd ' ')" \
  "Bea holds Zoe's name and e-mail as Ada recorded them, none of Ada's tags"
check_eq 0 "$(kith_in "$B" --json peer list | jq '[.[] | select(.name == "Zoe Offline")] | length')" \
  "... and no peer: Zoe does not use kith"
serve_stop "$SERVE_PID"

# ---- through a relay, with Eve offline until the end -------------------------------
timeout 300 "$KITH_BIN" --home "$T/relay-home" relay run --listen 127.0.0.1:0 \
  --data "$T/relay" >"$T/relay.out" 2>"$T/relay.err" &
RELAY_PID=$!
wait_event "$T/relay.out" listening || fail "the relay listens" "$(cat "$T/relay.err")"
R=$(grep -F '"event":"listening"' "$T/relay.out" | head -1 | jq -r .addr)
for h in A D E; do expect_ok kith_in "${!h}" relay add "$R"; done
serve_start "$A" "$T/serve.a2" || finish
rounds "$SERVE_ADDR" "$D" "$E" # each learns where the others fetch
serve_stop "$SERVE_PID"
expect_ok kith_in "$D" relay add 127.0.0.1:9 # a second relay only Dee lists
expect_ok kith_in "$A" --json intro propose Dee Eve -m "at last"
I5=$(jqs .id "$OUT")
relay_round() { local h; for h in "$@"; do expect_ok kith_in "$h" sync --relay "$R"; done; }
relay_round "$A" "$D"
pid_of "$D"; PD5=$PID
check_eq "$PD5" "$(kith_in "$D" --json intro list | jq -r '.[0].id')" "intro list: newest first"
expect_ok kith_in "$D" intro accept "$PD5" --share emails
relay_round "$D" "$A" "$D" "$A"
check_eq "accepted pending" "$(intro_of "$A" "$I5" | jq -r '[.parties[].answer] | join(" ")')" \
  "through the relay, Ada has Dee's answer while Eve is offline"
relay_round "$E" # Eve comes back
pid_of "$E"; PE5=$PID
expect_ok kith_in "$E" intro accept "$PE5"
for i in 1 2 3 4 5; do relay_round "$E" "$A" "$D" "$A" "$E"; done
check_eq completed "$(status_of "$A" "$I5")" "through the relay: completed"
check_eq completed "$(status_of "$D" "$PD5")" "Dee's side completed"
check_eq completed "$(status_of "$E" "$PE5")" "Eve's side completed"
check_eq pending "$(kith_in "$E" --json peer list | jq -r '.[] | select(.name == "Dee") | .status')" \
  "Eve has Dee as a pending peer"
check_eq "$KD" "$(kith_in "$E" --json peer list | jq -r '.[] | select(.name == "Dee") | .public_key')" \
  "... with Dee's key"
ed=$(intro_of "$E" "$PE5" | jq -r .contact)
check_eq Dee "$(kith_in "$E" --json contact show "$ed" | jq -r .name)" "Eve holds Dee as a contact"
# both confirm; the relays each fetches from came sealed with the details, so they
# sync through the relay at once, with no invite and no address
expect_ok kith_in "$E" peer confirm Dee
expect_ok kith_in "$D" peer confirm Eve
check_contains "$(kith_in "$E" --json relay list | jq -c .partners)" "127.0.0.1:9" \
  "Eve knows where Dee fetches (it came sealed with Dee's details) before they ever synced"
g=$(kith_in "$E" contact add --name "Gil Lead" --email gil@example.org)
expect_ok kith_in "$E" share "$g" --with Dee
relay_round "$E" "$D" "$E" "$D"
check_eq "Gil Lead" "$(kith_in "$D" --json contact show "$g" | jq -r .name)" \
  "Eve's card for Dee reaches her through the relay, directly"
kill "$RELAY_PID" 2>/dev/null
wait "$RELAY_PID" 2>/dev/null
finish
