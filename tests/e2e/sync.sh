# Sync end to end over TCP on 127.0.0.1, with the real binary: Ada's laptop and
# phone (linked devices), her partners Bea and Cy. Offline edits on every side,
# the same contact edited on laptop and phone (different fields, and the same
# field: the last writer wins), private tags and notes, shares from laptop, phone
# and partner, an unshare, a partner's delete of a shared card; syncs in several
# orders, through the laptop's serve and the phone's. Then: laptop and phone hold
# identical exports, each partner holds exactly what is shared with them (and
# nothing private, nothing of the other partnership), --json counts, sync state
# in 'peer list' / 'device list', revocation, and the errors.
. "$(dirname "$0")/lib.sh"

L=$T/laptop P=$T/phone B=$T/bea C=$T/cy

# the export of a home, keys sorted, without its own timestamp
export_of() { kith_in "$1" export --format json | jq -S 'del(.exported)'; }
# the sorted ids of a home's live contacts, on one line
ids_of() { kith_in "$1" --json contact list | jq -r '[.[].id] | sort | join(" ")'; }
# sorted ids given as arguments, on one line
ids() { printf '%s\n' "$@" | sort | paste -sd ' '; }
# one field of one contact: field HOME ID JQ
field() { kith_in "$1" --json contact show "$2" | jq -c "$3"; }

# sync_with HOME ADDR [PEER]: one round that must succeed, its --json in $OUT
sync_with()
{
  local home=$1 addr=$2; shift 2
  expect_ok kith_in "$home" --json sync "$@" --addr "$addr"
  check_eq true "$(jqs '[.syncs[].ok] | all' "$OUT")" \
    "sync from $(basename "$home") to $addr: every link committed"
}

# sync_quiet HOME ADDR [PEER]: a round that must move nothing either way
sync_quiet()
{
  sync_with "$@"
  check_eq "0 0" "$(jqs '"\(.sent) \(.received)"' "$OUT")" \
    "sync from $(basename "$1") with nothing new: sent 0, received 0"
}

# same_devices: laptop and phone hold identical exports
same_devices()
{
  export_of "$L" >"$T/exp.laptop"
  export_of "$P" >"$T/exp.phone"
  if cmp -s "$T/exp.laptop" "$T/exp.phone"; then
    pass "$1: laptop and phone exports are identical"
  else
    fail "$1: laptop and phone exports are identical" \
      "diff: $(show "$(diff "$T/exp.laptop" "$T/exp.phone" | head -40)")"
  fi
}

# partner_holds HOME "OWN IDS" SHARED IDS...: exactly the partner's own contacts
# and the shared ones, and nothing of Ada's private data on the shared ones
partner_holds()
{
  local home=$1 own=$2; shift 2
  local who
  who=$(basename "$home")
  # shellcheck disable=SC2086 # $own is a list of ids
  check_eq "$(ids $own "$@")" "$(ids_of "$home")" "$who holds exactly the shared set and their own"
  export_of "$home" >"$T/exp.$who"
  local e
  e=$(cat "$T/exp.$who")
  for tag in vip lap phonetag warm; do
    check_not_contains "$e" "\"$tag\"" "$who's export holds none of Ada's tags ($tag)"
  done
  for note in "Sam's private note" "Alice at the laptop" "Sue on the phone"; do
    check_not_contains "$e" "$note" "$who's export holds none of Ada's notes ($note)"
  done
  check_eq "[]" "$(jq -c --arg own "$own" '[.contacts[] | select(.id as $i | $own | contains($i) | not)
      | select(.last_contacted != null or .tags != [] or .notes != []) | .id]' <<<"$e")" \
    "$who sees no tag, note or last_contacted on the cards Ada shares"
}

# ---- homes: Ada's laptop and phone; partners Bea and Cy ----------------------------
expect_ok kith_in "$L" init --name Ada --device laptop
expect_ok kith_in "$B" init --name Bea --device tablet
expect_ok kith_in "$C" init --name Cy --device desk
pair_homes "$L" "$P" --device --listen 127.0.0.1:0
pair_homes "$L" "$B" --listen 127.0.0.1:0
pair_homes "$L" "$C" --listen 127.0.0.1:0

# a contact both of Ada's devices hold before they go offline
x=$(kith_in "$L" contact add --name "Xavier Both" --email x@old.example)
check_match '^[0-9a-f]{32}$' "$x" "contact add prints the new id"

serve_start "$L" "$T/serve.l" || finish
addr_l=$SERVE_ADDR
sync_with "$P" "$addr_l"
check_eq device "$(jqs '.syncs[0].as' "$OUT")" "the phone syncs with the laptop as a device"
check_match '"space":"self"' "$OUT" "... in the self space"
sync_with "$B" "$addr_l"
check_eq partner "$(jqs '.syncs[0].as' "$OUT")" "Bea syncs with the laptop as a partner"
check_eq '["with Ada"]' "$(jq -c '[.syncs[].spaces[].space]' <<<"$OUT")" "... only in the space she shares with Ada"
sync_with "$C" "$addr_l"
sync_with "$P" "$addr_l"
serve_stop "$SERVE_PID"
check_eq 0 "$?" "the laptop's serve stops cleanly"

check_eq "$x" "$(ids_of "$P")" "the phone holds the laptop's contact"
check_eq "Bea Cy" "$(kith_in "$P" --json peer list | jq -r '[.[].name] | sort | join(" ")')" \
  "the phone knows Ada's partners (peer records sync in self)"
check_eq Ada "$(kith_in "$P" --json whoami | jq -r .name)" "the phone knows its user's name"
check_eq "" "$(ids_of "$B")" "Bea holds nothing: nothing is shared yet"

# ---- round 1, all offline ------------------------------------------------------------
# laptop: a private contact with a tag and a note; a contact shared with Bea, with a
# private tag and note; its half of the conflicting edits on Xavier
a1=$(kith_in "$L" contact add --name "Alice Laptop" --tag lap)
expect_ok kith_in "$L" note add "$a1" "Alice at the laptop"
s1=$(kith_in "$L" contact add --name "Sam Shared" --email sam@example.org --org Acme --tag vip)
expect_ok kith_in "$L" note add "$s1" "Sam's private note"
expect_ok kith_in "$L" share "$s1" --with Bea
check_eq "$s1" "$OUT" "the first share keeps the contact's id"
expect_ok kith_in "$L" contact set "$x" title=CTO nickname=laptop emails=x@laptop.example
sleep 0.01
# phone: the other half (another field, the same field later, the same list field),
# a private contact, and a contact shared with Bea from the phone
expect_ok kith_in "$P" contact set "$x" org=Initech nickname=phone emails=x@phone.example
p1=$(kith_in "$P" contact add --name "Paul Phone" --tag phonetag)
s2=$(kith_in "$P" contact add --name "Sue Shared" --phone "+44 20 7946 0000" --tag warm)
expect_ok kith_in "$P" note add "$s2" "Sue on the phone"
expect_ok kith_in "$P" share "$s2" --with Bea
check_eq "$s2" "$OUT" "a share from the phone keeps the contact's id"
# Bea: a private contact with her tag and note, and a contact she shares with Ada
b1=$(kith_in "$B" contact add --name "Bob Private" --tag beaown)
expect_ok kith_in "$B" note add "$b1" "Bea's own note"
b2=$(kith_in "$B" contact add --name "Bill from Bea" --email bill@example.net --tag beashare)
expect_ok kith_in "$B" share "$b2" --with Ada
check_eq "$b2" "$OUT" "Bea's share keeps her contact's id"

expect_ok kith_in "$L" --json peer list
check_match '^[1-9]' "$(jqs '.[] | select(.name == "Bea") | .sync.they_lack' "$OUT")" \
  "the laptop's peer list: Bea lacks the new share"

# phone -> laptop -> Bea -> phone, through the laptop's serve
serve_start "$L" "$T/serve.l" || finish
addr_l=$SERVE_ADDR
sync_with "$P" "$addr_l"
check_match '^[1-9]' "$(jqs .sent "$OUT")" "the phone sends its offline edits"
check_match '^[1-9]' "$(jqs .received "$OUT")" "... and receives the laptop's"
sync_with "$B" "$addr_l"
check_match '^[1-9]' "$(jqs .sent "$OUT")" "Bea sends her share"
check_match '^[1-9]' "$(jqs .received "$OUT")" "... and receives Ada's two shares"
sync_with "$P" "$addr_l"
serve_stop "$SERVE_PID"

# Bea -> phone directly (Bea trusts Ada's phone through the partnership's roster)
serve_start "$P" "$T/serve.p" || finish
addr_p=$SERVE_ADDR
sync_with "$B" "$addr_p" Ada
check_eq partner "$(jqs '.syncs[0].as' "$OUT")" "Bea syncs with Ada's phone as a partner"
wait_event "$T/serve.p" synced
check_contains "$(cat "$T/serve.p")" '"peer":"Bea"' "the phone's serve reports Bea's sync"
sync_quiet "$B" "$addr_p" Ada
serve_stop "$SERVE_PID"
check_eq 0 "$?" "the phone's serve stops cleanly"

# laptop again: everyone converges
serve_start "$L" "$T/serve.l" || finish
addr_l=$SERVE_ADDR
sync_with "$P" "$addr_l"
sync_with "$B" "$addr_l"
sync_with "$P" "$addr_l"
sync_quiet "$P" "$addr_l"
sync_quiet "$B" "$addr_l"
sync_quiet "$C" "$addr_l"

same_devices "round 1"
check_eq "$(ids "$x" "$a1" "$s1" "$p1" "$s2" "$b2")" "$(ids_of "$L")" \
  "Ada holds her contacts and Bea's share, not Bea's private contact"
partner_holds "$B" "$b1 $b2" "$s1" "$s2"
partner_holds "$C" ""
check_eq '["CTO","Initech","phone"]' "$(field "$L" "$x" '[.title, .org, .nickname]')" \
  "Xavier: both sides' fields survive, the later nickname wins"
check_eq '["x@laptop.example","x@phone.example"]' "$(field "$L" "$x" '.emails | sort')" \
  "Xavier: both offline e-mail additions survive"
check_eq '["vip"]' "$(field "$L" "$s1" .tags)" "Sam, shared, keeps Ada's tag on her side"
check_eq '[]' "$(field "$B" "$s1" .tags)" "... and Bea sees no tag on him"
check_eq '"Acme"' "$(field "$B" "$s1" .org)" "... but sees his card"
check_eq "Sam's private note" "$(kith_in "$P" --json note list "$s1" | jq -r '.[].text')" \
  "Sam's private note reached the phone"
check_eq '["beashare"]' "$(field "$B" "$b2" .tags)" "Bea's tag on her shared contact stays hers"
check_eq '[]' "$(field "$L" "$b2" .tags)" "... Ada does not see it"
check_eq 0 "$(kith_in "$L" --json note list "$b2" | jq length)" "... nor any note of Bea's"
check_eq '"bill@example.net"' "$(field "$P" "$b2" '.emails[0]')" "Bea's shared card reached Ada's phone"

# sync state after a full round
expect_ok kith_in "$L" --json peer list
bea=$(jqs '.[] | select(.name == "Bea") | .sync' "$OUT")
check_match '^20[0-9]{2}-' "$(jqs .last_sync "$bea")" "the laptop's peer list: last sync with Bea"
check_eq "0 0" "$(jqs '"\(.they_lack) \(.i_lack)"' "$bea")" "... nothing lacking either way"
expect_ok kith_in "$L" --json device list
phone=$(jqs '.[] | select(.this_device | not) | .sync' "$OUT")
check_match '^20[0-9]{2}-' "$(jqs .last_sync "$phone")" "the laptop's device list: last sync with the phone"
check_eq "0 0" "$(jqs '"\(.they_lack) \(.i_lack)"' "$phone")" "... nothing lacking either way"
expect_ok kith_in "$B" --json peer list
check_eq "0 0" "$(jqs '.[0].sync.devices[] | select(.label == "laptop") | "\(.they_lack) \(.i_lack)"' "$OUT")" \
  "Bea's peer list: nothing lacking with Ada's laptop"

# a private edit is owed to the phone only; an edit of the shared card to Bea too
expect_ok kith_in "$L" contact set "$a1" title=Engineer
expect_ok kith_in "$L" --json device list
check_match '^[1-9]' "$(jqs '.[] | select(.this_device | not) | .sync.they_lack' "$OUT")" \
  "after a private edit, the phone lacks it"
expect_ok kith_in "$L" --json peer list
check_eq 0 "$(jqs '.[] | select(.name == "Bea") | .sync.they_lack' "$OUT")" "... and Bea lacks nothing"
expect_ok kith_in "$L" contact set "$s1" title=Lead
expect_ok kith_in "$L" --json peer list
check_match '^[1-9]' "$(jqs '.[] | select(.name == "Bea") | .sync.they_lack' "$OUT")" \
  "after an edit of the shared card, Bea lacks it"
check_eq 0 "$(jqs '.[] | select(.name == "Cy") | .sync.they_lack' "$OUT")" "... and Cy lacks nothing"
serve_stop "$SERVE_PID"

# ---- round 2, all offline: a partner's delete, an unshare, a second partnership ------
sleep 0.01
expect_ok kith_in "$B" contact set "$s1" title=Boss # later than the laptop's title
expect_ok kith_in "$B" contact rm "$s2"           # the card Ada's phone shared
expect_ok kith_in "$P" unshare "$b2" --with Bea    # the card Bea shared
b2p=$OUT
check_match '^[0-9a-f]{32}$' "$b2p" "unshare prints my private copy's id"
check "... a new id" test "$b2p" != "$b2"
expect_ok kith_in "$L" share "$s1" --with Cy
s1c=$OUT
check_match '^[0-9a-f]{32}$' "$s1c" "sharing with a second partner prints the copy's id"
check "... a new id" test "$s1c" != "$s1"
c1=$(kith_in "$C" contact add --name "Cora from Cy" --tag cyown)
expect_ok kith_in "$C" share "$c1" --with Ada

# Bea -> phone, phone -> laptop, Cy -> laptop, Bea -> laptop, phone -> laptop
serve_start "$P" "$T/serve.p" || finish
addr_p=$SERVE_ADDR
sync_with "$B" "$addr_p" Ada
serve_stop "$SERVE_PID"
serve_start "$L" "$T/serve.l" || finish
addr_l=$SERVE_ADDR
sync_with "$P" "$addr_l"
sync_with "$C" "$addr_l"
sync_with "$B" "$addr_l"
sync_with "$P" "$addr_l"
sync_quiet "$B" "$addr_l"
sync_quiet "$C" "$addr_l"
sync_quiet "$P" "$addr_l"

same_devices "round 2"
# Bea's delete of Sue leaves Ada a private copy, with her tag and note
sue=$(kith_in "$L" --json contact list | jq -r '.[] | select(.name == "Sue Shared") | .id')
check_match '^[0-9a-f]{32}$' "$sue" "Bea's delete leaves Ada one private copy of Sue"
check "... with a new id" test "$sue" != "$s2"
check_eq '["warm"]' "$(field "$L" "$sue" .tags)" "... with Ada's tag"
check_eq '["+44 20 7946 0000"]' "$(field "$L" "$sue" .phones)" "... and the card"
check_eq "Sue on the phone" "$(kith_in "$L" --json note list "$sue" | jq -r '.[].text')" "... and Ada's note"
# the phone's unshare of Bill leaves both sides a private copy
check_eq "Bill from Bea" "$(field "$L" "$b2p" .name | jq -r .)" "the phone's unshare left Ada a copy of Bill"
bill=$(kith_in "$B" --json contact list | jq -r '.[] | select(.name == "Bill from Bea") | .id')
check_match '^[0-9a-f]{32}$' "$bill" "... and Bea one too"
check "... with another id than the shared card" test "$bill" != "$b2"
check "... and than Ada's copy" test "$bill" != "$b2p"
check_eq '["beashare"]' "$(field "$B" "$bill" .tags)" "... with Bea's tag"
# the last title wins on both sides
check_eq '"Boss"' "$(field "$L" "$s1" .title)" "Bea's later edit of Sam's title reached Ada"
check_eq '"Boss"' "$(field "$B" "$s1" .title)" "... and stays on Bea's side"
check_eq "$(ids "$x" "$a1" "$s1" "$s1c" "$p1" "$sue" "$b2p" "$c1")" "$(ids_of "$L")" \
  "Ada holds her contacts, both copies of Sam, and the private copies"
partner_holds "$B" "$b1 $bill" "$s1"
partner_holds "$C" "$c1" "$s1c"
check_not_contains "$(cat "$T/exp.bea")" "$s1c" "Bea's export does not hold Cy's copy of Sam"
check_not_contains "$(cat "$T/exp.cy")" "$s1\"" "Cy's export does not hold Bea's copy of Sam"
check_not_contains "$(cat "$T/exp.bea")" "Cora" "Bea sees nothing Cy shared"
check_not_contains "$(cat "$T/exp.cy")" "Bill" "Cy sees nothing Bea shared"

# Cy edits his copy: it reaches Ada's copy, never Bea's card
expect_ok kith_in "$C" contact set "$s1c" org=CyCorp
sync_with "$C" "$addr_l"
sync_with "$B" "$addr_l"
sync_with "$P" "$addr_l"
check_eq '"CyCorp"' "$(field "$P" "$s1c" .org)" "Cy's edit of his copy reached Ada's phone"
check_eq '"Acme"' "$(field "$L" "$s1" .org)" "... and not the card Ada shares with Bea"
check_eq '"Acme"' "$(field "$B" "$s1" .org)" "... nor Bea"
serve_stop "$SERVE_PID"
# the other way round: the laptop dials the phone's serve; nothing is left to move
serve_start "$P" "$T/serve.p" || finish
sync_quiet "$L" "$SERVE_ADDR" "$(kith_in "$P" --json whoami | jq -r .device)"
check_eq device "$(jqs '.syncs[0].as' "$OUT")" "the laptop syncs with the phone as a device"
serve_stop "$SERVE_PID"

# ---- revocation: the laptop revokes the phone -------------------------------------------
phone_id=$(kith_in "$L" --json device list | jq -r '.[] | select(.this_device | not) | .id')
expect_ok kith_in "$L" device revoke "${phone_id:0:8}"
serve_start "$L" "$T/serve.l" || finish
addr_l=$SERVE_ADDR
sync_with "$B" "$addr_l" # Bea learns of the revocation through the partnership
expect_ok kith_in "$L" contact add --name "After Revocation"
expect_ok kith_in "$L" contact set "$s1" title=Chief
export_of "$P" >"$T/exp.phone.before"
expect_error 77 "revoked" kith_in "$P" sync --addr "$addr_l"
check "the laptop's serve reports the refusal" wait_event "$T/serve.l" refused
serve_stop "$SERVE_PID"
serve_start "$B" "$T/serve.b" || finish
expect_error 77 "revok|not trust" kith_in "$P" sync Bea --addr "$SERVE_ADDR"
check "Bea's serve refuses Ada's revoked phone" wait_event "$T/serve.b" refused
fp_phone=$(kith_in "$P" --json whoami | jq -r .fingerprint)
check_eq "" "$(jq -c --arg f "$fp_phone" 'select(.event == "synced" and .fingerprint == $f)' "$T/serve.b")" \
  "... and syncs nothing with it"
serve_stop "$SERVE_PID"
export_of "$P" >"$T/exp.phone.after"
check "the revoked phone received nothing new" cmp -s "$T/exp.phone.before" "$T/exp.phone.after"

# ---- errors -------------------------------------------------------------------------------
expect_error 69 "unreachable|cannot reach" kith_in "$C" sync --addr 127.0.0.1:1
expect_error 69 "unreachable|cannot reach" kith_in "$L" sync --addr 127.0.0.1:1
expect_error 69 "unreachable|cannot reach" kith_in "$B" sync Ada --addr 127.0.0.1:1
expect_error 65 "no partner or device 'nobody'" kith_in "$L" sync nobody
expect_error 65 "nobody" kith_in "$L" share "$a1" --with Nobody
expect_error 65 "no contact|not found|nothing" kith_in "$L" share ffffffffffff --with Bea
expect_error 64 "usage|--with" kith_in "$L" share "$a1"
expect_error 64 "wait" kith_in "$L" sync --wait soon
finish
