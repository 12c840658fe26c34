# Referrals end to end with the real binary on 127.0.0.1: Ada's laptop and phone
# (linked devices) and her partner Bea. Ada passes leads to Bea; Bea moves one
# through offered -> accepted -> contacted -> met -> won and thanks her, Ada's view
# checked after each sync (through the laptop's serve); Ada's phone sees it all and
# is refused as a giver; a second round of changes travels through a relay (kith
# relay run, kith sync --relay); Bea passes one back. Then: stats match the events
# exactly (--json), --given/--received/--peer filters, what Bea holds of Ada's
# contact (the card, no tag, no note), one-line errors with their exit codes, and
# --help on every subcommand.
. "$(dirname "$0")/lib.sh"

A=$T/ada P=$T/phone B=$T/bea

# sync_to HOME ADDR: one round with the serve at ADDR, which must commit
sync_to()
{
  expect_ok kith_in "$1" --json sync --addr "$2"
  check_eq true "$(jqs '[.syncs[].ok] | all' "$OUT")" "$(basename "$1") synced with $2"
}
# one referral as HOME sees it: ref HOME ID JQ
ref() { kith_in "$1" --json referral show "$2" | jq -c "$3"; }

expect_ok kith_in "$A" init --name Ada --device laptop
expect_ok kith_in "$B" init --name Bea --device tablet
pair_homes "$A" "$P" --device --listen 127.0.0.1:0
pair_homes "$A" "$B" --listen 127.0.0.1:0

# ---- --help everywhere, and usage errors ------------------------------------------
expect_ok kith_in "$A" referral --help
check_contains "$OUT" "kith referral add --contact ID --to PEER" "referral --help lists add"
for sub in add list show status thank stats; do
  expect_ok kith_in "$A" referral "$sub" --help
  check_match "^usage: kith referral $sub" "$OUT" "referral $sub --help"
done
expect_ok kith_in "$A" referral stats --help
check_contains "$OUT" "won / (won + lost + declined)" "stats --help gives the conversion formula"
check_contains "$OUT" "won / all of them" "... and the other"
expect_ok kith_in "$A" --help
check_contains "$OUT" "referral" "kith --help lists referral"
expect_error 64 "needs --contact and --to" kith_in "$A" referral add --to Bea
expect_error 64 "unknown subcommand" kith_in "$A" referral nonsense
expect_error 64 "not both" kith_in "$A" referral list --given --received
expect_error 64 "missing the referral id" kith_in "$A" referral show
expect_error 64 "missing the referral id or status" kith_in "$A" referral status abc
expect_error 64 "unknown option" kith_in "$A" referral list --bogus

# ---- Ada passes two leads --------------------------------------------------------
G=$(kith_in "$A" contact add --name "Grace Hopper" --email grace@navy.mil --org "US Navy" --tag secret)
expect_ok kith_in "$A" note add "$G" "owes me a favour"
L=$(kith_in "$A" contact add --name "Linus Pauling" --tag private)
expect_error 65 "no peer 'Nobody'" kith_in "$A" referral add --contact "$G" --to Nobody
expect_error 65 "no contact with id" kith_in "$A" referral add --contact ffff --to Bea
expect_error 65 "not an amount" kith_in "$A" referral add --contact "$G" --to Bea --value lots
expect_error 65 "not an amount" kith_in "$A" referral add --contact "$G" --to Bea --value "1,500"
check_eq "" "$(kith_in "$A" --json referral list | jq -r '.[].id')" "refused adds wrote nothing"

expect_ok kith_in "$A" referral add --contact "$G" --to Bea --reason "needs a COBOL team" --value "1500 eur"
R1=$OUT
check_match '^[0-9a-f]{32}$' "$R1" "referral add prints the new id alone"
expect_ok kith_in "$A" --json referral add --contact "$L" --to Bea --value 200
R2=$(jqs .id "$OUT")
check_eq '["given","Bea","Linus Pauling","offered","200",null,1]' \
  "$(jq -c '[.direction, .peer, .contact.name, .status, .value, .thanked, (.history | length)]' <<<"$OUT")" \
  "referral add --json: the referral"
check_eq '["given","Bea","Grace Hopper","offered","1500 EUR","needs a COBOL team"]' \
  "$(ref "$A" "$R1" '[.direction, .peer, .contact.name, .status, .value, .reason]')" \
  "Ada's view: given to Bea, offered, the value as an amount"
check_eq "\"$G\"" "$(ref "$A" "$R1" .contact.id)" "the contact's own card moved into the partnership"

# ---- Bea receives them (through the laptop's serve) -------------------------------
serve_start "$A" "$T/serve.a" || finish
ADDR=$SERVE_ADDR
sync_to "$B" "$ADDR"
expect_ok kith_in "$B" --json referral list
check_eq "$(printf '%s\n' "$R1" "$R2" | sort | paste -sd ' ')" "$(jq -r '[.[].id] | join(" ")' <<<"$OUT")" \
  "Bea's list: both referrals, sorted by id"
check_eq '["received","Ada","Grace Hopper","offered","needs a COBOL team"]' \
  "$(ref "$B" "$R1" '[.direction, .peer, .contact.name, .status, .reason]')" \
  "Bea's view: received from Ada"
expect_ok kith_in "$B" --json contact show "$G"
check_eq '["Grace Hopper",["grace@navy.mil"],[],[]]' "$(jq -c '[.name, .emails, .tags, .notes]' <<<"$OUT")" \
  "Bea holds Grace's card: no tag of Ada's, no note"
check_not_contains "$(kith_in "$B" export --format json)" "owes me a favour" "... Ada's note is nowhere in Bea's export"
check_not_contains "$(kith_in "$B" export --format json)" "secret" "... nor her tag"

# ---- the lifecycle: Bea moves it, Ada sees each step ------------------------------
expect_error 77 "only Bea, who received it" kith_in "$A" referral status "$R1" accepted
expect_error 77 "only Bea" kith_in "$A" referral thank "$R1"
expect_error 65 "not a status" kith_in "$B" referral status "$R1" signed
expect_error 65 "is offered, not won" kith_in "$B" referral thank "$R1" --value 10
expect_error 65 "no referral with id" kith_in "$B" referral status 0000 won

for step in accepted contacted met won; do
  note=()
  [ "$step" = met ] && note=(--note "coffee at the Navy Yard")
  expect_ok kith_in "$B" referral status "${R1:0:8}" "$step" "${note[@]}"
  check_eq "" "$OUT" "referral status prints nothing"
  check_eq "\"$step\"" "$(ref "$B" "$R1" .status)" "Bea's view: $step"
  sync_to "$B" "$ADDR"
  check_eq "\"$step\"" "$(ref "$A" "$R1" .status)" "Ada sees $step after the sync"
done
check_eq '"coffee at the Navy Yard"' "$(ref "$A" "$R1" '.history[3].note')" "the note travels with its step"
expect_ok kith_in "$B" --json referral thank "$R1" --value "1500 EUR"
check_eq '"1500 EUR"' "$(jq -c .thank_value <<<"$OUT")" "thank --json: the referral, thanked"
sync_to "$B" "$ADDR"
expect_ok kith_in "$A" --json referral show "$R1"
check_eq '["offered","accepted","contacted","met","won"]' "$(jq -c '[.history[].status]' <<<"$OUT")" \
  "Ada sees the whole path"
check_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$(jqs .thanked "$OUT")" "Ada sees when Bea thanked"
check_eq '"1500 EUR"' "$(jq -c .thank_value <<<"$OUT")" "... and the value of the business"
check_eq true "$(jq '[.history[].at] | . == sort' <<<"$OUT")" "history in time order"

# Ada's phone: sees it all, and is refused as a giver like the laptop
sync_to "$P" "$ADDR"
check_eq '["given","won","1500 EUR"]' "$(ref "$P" "$R1" '[.direction, .status, .thank_value]')" \
  "Ada's phone sees the outcome"
expect_error 77 "you gave referral" kith_in "$P" referral status "$R1" lost
serve_stop "$SERVE_PID"

# ---- through a relay: the second lead, and one back from Bea ---------------------
relay_start r1 || finish
R=$RELAY_ADDR
expect_ok kith_in "$A" relay add "$R"
expect_ok kith_in "$B" relay add "$R"
K=$(kith_in "$A" contact add --name "Katherine Johnson")
expect_ok kith_in "$A" referral add --contact "$K" --to Bea --reason "orbital mechanics" --value "300.50 EUR"
R3=$OUT
expect_ok kith_in "$A" sync --relay "$R"
expect_ok kith_in "$B" sync --relay "$R"
check_eq '"offered"' "$(ref "$B" "$R3" .status)" "Bea gets the third lead through the relay"
expect_ok kith_in "$B" referral status "$R2" declined --note "not my field"
expect_ok kith_in "$B" referral status "$R3" accepted
D=$(kith_in "$B" contact add --name "Dorothy Vaughan" --tag beaown)
expect_ok kith_in "$B" referral add --contact "$D" --to Ada --reason "FORTRAN" --value 50
R4=$OUT
expect_ok kith_in "$B" sync --relay "$R"
expect_ok kith_in "$A" --json sync --relay "$R"
check_match '^[1-9]' "$(jqs .fetched.envelopes "$OUT")" "Ada fetched Bea's changes"
check_eq '"declined"' "$(ref "$A" "$R2" .status)" "Ada sees the decline through the relay"
check_eq '"not my field"' "$(ref "$A" "$R2" .note)" "... with Bea's note"
check_eq '"accepted"' "$(ref "$A" "$R3" .status)" "... and the acceptance"
check_eq '["received","Bea","Dorothy Vaughan","offered"]' \
  "$(ref "$A" "$R4" '[.direction, .peer, .contact.name, .status]')" "Ada receives Bea's lead"
expect_error 77 "only Ada, who received it" kith_in "$B" referral status "$R4" won
expect_ok kith_in "$A" referral status "$R4" contacted
expect_ok kith_in "$A" sync --relay "$R"
expect_ok kith_in "$B" sync --relay "$R"
check_eq '"contacted"' "$(ref "$B" "$R4" .status)" "Bea sees Ada's step on her lead"

# ---- lists and filters ----------------------------------------------------------------
given=$(printf '%s\n' "$R1" "$R2" "$R3" | sort | paste -sd ' ')
check_eq "$given" "$(kith_in "$A" --json referral list --given | jq -r '[.[].id] | join(" ")')" "Ada --given"
check_eq "$R4" "$(kith_in "$A" --json referral list --received | jq -r '[.[].id] | join(" ")')" "Ada --received"
check_eq 4 "$(kith_in "$A" --json referral list --peer Bea | jq length)" "Ada --peer Bea: all four"
check_eq "$R4" "$(kith_in "$B" --json referral list --given | jq -r '.[].id')" "Bea --given: hers"
check_eq 3 "$(kith_in "$B" --json referral list --received | jq length)" "Bea --received: Ada's three"
expect_error 65 "no peer" kith_in "$A" referral list --peer Zed
expect_ok kith_in "$A" referral list
check_match '^ID +DIRECTION +PEER +CONTACT +STATUS +VALUE +UPDATED' "$(head -1 <<<"$OUT")" "the table's header"
check_eq 5 "$(wc -l <<<"$OUT" | tr -d ' ')" "a header and four rows"
check_contains "$(grep "${R1:0:8}" <<<"$OUT")" "won" "the table shows the status"
expect_ok kith_in "$A" referral show "$R1"
check_contains "$OUT" "history:" "show: the history"
check_contains "$OUT" "coffee at the Navy Yard" "show: a step's note"

# ---- stats: the numbers match the events -----------------------------------------------
expect_ok kith_in "$A" --json referral stats
S=$OUT
check_eq '["Bea"]' "$(jq -c '[.partners[].peer]' <<<"$S")" "stats: one partner"
g='.partners[0].given'
check_eq 3 "$(jq "$g.count" <<<"$S")" "given: 3"
check_eq '{"accepted":1,"contacted":0,"declined":1,"lost":0,"met":0,"offered":0,"won":1}' \
  "$(jq -cS "$g.by_status" <<<"$S")" "given, by status"
check_eq "1 2" "$(jq -r "\"\($g.won) \($g.closed)\"" <<<"$S")" "won 1 of 2 closed"
check_eq true "$(jq "$g.conversion.closed == 0.5 and $g.conversion.all == 1/3" <<<"$S")" \
  "conversion: won/closed = 1/2, won/all = 1/3"
check_eq '[{"amount":"1500","currency":"EUR"}]' "$(jq -c "$g.won_value" <<<"$S")" \
  "won value: the won referral's value only"
check_eq '1 [{"amount":"1500","currency":"EUR"}]' "$(jq -c "$g.thanked, $g.thank_value" <<<"$S" | paste -sd ' ')" \
  "thanked once, for 1500 EUR"
r='.partners[0].received'
check_eq '1 1 null 0' "$(jq -r "\"\($r.count) \($r.by_status.contacted) \($r.conversion.closed) \($r.conversion.all)\"" <<<"$S")" \
  "received: Bea's one lead, contacted, nothing closed"
check_eq "$(jq -c '.partners[0] | del(.peer, .peer_id)' <<<"$S")" "$(jq -c .total <<<"$S")" \
  "the total is the one partner's"
expect_ok kith_in "$B" --json referral stats --peer Ada
check_eq "$(jq -c "$g" <<<"$S")" "$(jq -c '.partners[0].received' <<<"$OUT")" \
  "Bea's received are Ada's given, number for number"
expect_ok kith_in "$A" referral stats
check_contains "$OUT" "1 won of 2 closed (50%), of 3 in all (33%)" "stats, for people"
check_contains "$OUT" "won value: 1500 EUR" "... the won value"

# ---- unsharing the contact leaves the referral --------------------------------------
expect_ok kith_in "$A" unshare "$G" --with Bea
expect_ok kith_in "$A" sync --relay "$R"
expect_ok kith_in "$B" sync --relay "$R"
check_eq '["Grace Hopper",false,"won"]' "$(ref "$B" "$R1" '[.contact.name, .contact.shared, .status]')" \
  "after an unshare Bea still sees the referral and its contact's name"

serve_stop "$RELAY_PID" # SIGTERM to the relay (not timeout(1)): a clean stop
finish
