#!/usr/bin/env bash
# roundtrip.sh — export --format json and import: a faithful copy (ids, stamps,
# every field and note), idempotent re-imports, partial contacts without ids, stamps
# from the future refused, --dry-run, and standard input.
. "$(dirname "$0")/lib.sh"

H1="$T/h1"
new_home "$H1" "Origin"
KHOME=$H1
add() { kith contact add "$@" || fail "contact add $*"; }
set_() { kith contact set "$@" >/dev/null || fail "contact set $*"; }
note() { kith note add "$@" || fail "note add $*"; }

# ---- a rich store -----------------------------------------------------------------
ZOE=$(add --name "Zoë Ortiz" --email work:zoe@acme.example --email home:zoe@mail.example \
  --phone "cell:+44 20 7946 0000" --phone "work:+1 555 0100" --org Acme --title CTO \
  --tag VIP --tag climbing --link https://github.com/zoe --link https://zoe.example \
  --nickname Zo --birthday 1985-07-14 --met-at "RustConf 2024" \
  --needs "a Rust job" --offers "intros to VCs")
set_ "$ZOE" address="work:1 Main St, Springfield, IL, 62701, USA" x-github=zoe-o \
  x-mastodon=@zoe@example.social follow_up=2031-01-15
set_ "$ZOE" org=Globex                      # an overwritten field
set_ "$ZOE" title="VP Engineering" x-mastodon= # overwritten and cleared
note "$ZOE" "Coffee in Zürich — she wants a Rust job" >/dev/null
N2=$(note "$ZOE" "to be edited")
kith note edit "$N2" "Edited: sent her the Globex posting" || fail "note edit"
N3=$(note "$ZOE" "a note that will be deleted")
kith note rm "$N3" >/dev/null || fail "note rm"

WANG=$(add --name "王小明" --email work:wang@example.cn --phone "+86 10 1234 5678" \
  --org "清华大学" --tag 客户 --tag VIP im=wechat:wxm)
note "$WANG" "饺子 lunch, talked about 深圳 hardware" >/dev/null
EMOJI=$(add --name "🦄 Unicorn Labs" --email hello@unicorn.example --tag "🚀 startup" \
  --link https://unicorn.example)
note "$EMOJI" "Pitch 🎉 went well" >/dev/null
ORJAN=$(add --name "Ørjan Ås" --email Orjan@Example.NO --tag nordics --org "Fjord AS")
set_ "$ORJAN" tags=only-tag org= address="home:Storgata 1, Oslo, , 0155, Norway"
GONE=$(add --name "Deleted Person" --email gone@example.com --tag VIP)
note "$GONE" "this note goes with its contact" >/dev/null
kith contact rm "$GONE" >/dev/null || fail "contact rm"
add --name "Plain Jane" >/dev/null

N_CONTACTS=$(count_contacts "$H1")
N_NOTES=$(count_notes "$H1")
check_eq "5|4" "$N_CONTACTS|$N_NOTES" "the store holds 5 contacts and 4 notes"

# ---- export, import into a fresh home, export again -----------------------------------
expect_ok kith export --format json -o "$T/e1.json"
check_eq "" "$OUT" "export -o prints nothing on stdout"
check "the export is valid JSON" jq -e '.kith_export == 1 and (.contacts | type == "array")' \
  "$T/e1.json" >/dev/null
check_eq "$N_CONTACTS" "$(jq '.contacts | length' "$T/e1.json")" "every live contact is exported"
check_eq "" "$(jq -r ".contacts[] | select(.id == \"$GONE\") | .id" "$T/e1.json")" \
  "a deleted contact is not exported"
check_eq "" "$(jq -r ".contacts[].notes[] | select(.id == \"$N3\") | .id" "$T/e1.json")" \
  "a deleted note is not exported"
check_match '^\{"kith_export":1,"exported":"[0-9T:.Z-]+","contacts":\[$' "$(head -n 1 "$T/e1.json")" \
  "the first line holds the export time"

expect_ok kith export
check_eq "$(tail -n +2 "$T/e1.json")" "$(tail -n +2 "$T/out")" "export to stdout == export -o"
expect_ok kith --json export -o "$T/e1b.json"
check_eq "$T/e1b.json|$N_CONTACTS" "$(jqs '.file + "|" + (.contacts|tostring)' "$OUT")" "export -o --json"

H2="$T/h2"
new_home "$H2" "Copy"
expect_ok kith_in "$H2" --json import "$T/e1.json"
check_eq "$N_CONTACTS|0|$N_NOTES|false" \
  "$(jqs '"\(.contacts_new)|\(.contacts_merged)|\(.notes)|\(.dry_run)"' "$OUT")" \
  "import --json counts contacts and notes"
expect_ok kith_in "$H2" export --format json -o "$T/e2.json"

strip_time() { sed -e '1s/"exported":"[^"]*"/"exported":""/' "$1"; }
check_eq "$(strip_time "$T/e1.json")" "$(strip_time "$T/e2.json")" \
  "export → import → export: the same file but for the export time"
check_eq "$(jq -S .contacts "$T/e1.json")" "$(jq -S .contacts "$T/e2.json")" \
  "the contacts arrays are equal as JSON"

same_view()
{ # same_view HOME_A HOME_B WHAT: the same lists and cards, byte for byte
  local a=$1 b=$2 what=$3 id
  check_eq "$(kith_in "$a" --json contact list)" "$(kith_in "$b" --json contact list)" \
    "$what: contact list --json"
  check_eq "$(kith_in "$a" --json note list)" "$(kith_in "$b" --json note list)" \
    "$what: note list --json"
  for id in $(kith_in "$a" --json contact list | jq -r '.[].id'); do
    check_eq "$(kith_in "$a" --json contact show "$id")" "$(kith_in "$b" --json contact show "$id")" \
      "$what: contact show --json ${id:0:8}"
  done
}
same_view "$H1" "$H2" "origin and copy"

KHOME=$H2
expect_ok kith --json contact show "$ZOE"
ZJ=$OUT
check_eq "Zoë Ortiz|Globex|VP Engineering|zoe-o|null" \
  "$(jqs '"\(.name)|\(.org)|\(.title)|\(.x.github)|\(.x.mastodon)"' "$ZJ")" \
  "the copy has the overwritten and cleared fields as they ended"
check_eq "1985-07-14|2031-01-15|Zo|RustConf 2024|a Rust job|intros to VCs" \
  "$(jqs '"\(.birthday)|\(.follow_up)|\(.nickname)|\(.met_at)|\(.needs)|\(.offers)"' "$ZJ")" \
  "the copy has dates and the networking fields"
check_eq '{"kind":"work","street":"1 Main St","locality":"Springfield","region":"IL","code":"62701","country":"USA"}' \
  "$(jqs '.addresses[0] | tojson' "$ZJ")" "the copy has the address, in parts"
check_eq "work|home|cell" "$(jqs '"\(.kinds.emails["zoe@acme.example"])|\(.kinds.emails["zoe@mail.example"])|\(.kinds.phones["+44 20 7946 0000"])"' "$ZJ")" \
  "the copy keeps the kinds of e-mails and phones"
check_eq "$(printf '%s\n' "Coffee in Zürich — she wants a Rust job" "Edited: sent her the Globex posting" | sort)" \
  "$(jqs '.notes[].text' "$ZJ" | sort)" "the copy has the notes as edited, not the deleted one"
expect_exit 65 kith contact show "$GONE"
expect_exit 65 kith note edit "$N3" "back?"
expect_ok kith --json contact list --search zurich
check_eq "$ZOE" "$(jqs '.[].id' "$OUT")" "search in the copy finds note text"
expect_ok kith --json contact list --tag 客户
check_eq "$WANG" "$(jqs '.[].id' "$OUT")" "tags in the copy are indexed (客户)"
expect_ok kith --json contact list --tag "🚀 STARTUP"
check_eq "$EMOJI" "$(jqs '.[].id' "$OUT")" "tags with emoji are indexed"
expect_ok kith --json contact list --tag vip
check_eq "$(printf '%s\n' "$WANG" "$ZOE" | sort)" "$(jqs '.[].id' "$OUT" | sort)" \
  "--tag vip in the copy: no deleted contact"
check_eq "$(kith_in "$H1" contact list)" "$(kith_in "$H2" contact list)" \
  "human contact list is the same in both homes"

# ---- importing again changes nothing ----------------------------------------------------
expect_ok kith_in "$H2" --json import "$T/e1.json"
check_eq "0|$N_CONTACTS" "$(jqs '"\(.contacts_new)|\(.contacts_merged)"' "$OUT")" \
  "a second import: nothing new, every contact merged"
check_eq "$N_CONTACTS|$N_NOTES" "$(count_contacts "$H2")|$(count_notes "$H2")" \
  "a second import duplicates nothing"
same_view "$H1" "$H2" "after a second import"
expect_ok kith_in "$H2" import "$T/e2.json"
expect_ok kith_in "$H1" import "$T/e2.json"
same_view "$H1" "$H2" "after importing each home's export into both"
check_eq "$N_CONTACTS|$N_NOTES" "$(count_contacts "$H1")|$(count_notes "$H1")" \
  "importing a home's own export into it duplicates nothing"
check_eq 65 "$(kith_in "$H1" contact show "$GONE" >/dev/null 2>&1; echo $?)" \
  "an import does not bring back a deleted contact"

# ---- merge by stamps: the newer value wins, whichever file is imported last -------------
kith_in "$H2" contact set "$ZOE" org=Initech >/dev/null || fail "contact set in the copy"
kith_in "$H2" export -o "$T/e3.json" 2>/dev/null || fail "export e3"
expect_ok kith_in "$H1" import "$T/e3.json"
check_eq "Initech" "$(kith_in "$H1" --json contact show "$ZOE" | jq -r .org)" \
  "a newer edit from the copy reaches the origin"
expect_ok kith_in "$H2" import "$T/e1.json"
check_eq "Initech" "$(kith_in "$H2" --json contact show "$ZOE" | jq -r .org)" \
  "an older export does not undo a newer edit"
same_view "$H1" "$H2" "after merging an edit"

# ---- partial contacts without ids ---------------------------------------------------------
H3="$T/h3"
new_home "$H3"
cat >"$T/partial.json" <<'EOF'
[
  {"name": "Ada Lovelace", "emails": ["ada@example.org"], "phones": ["+44 20 0000 0001"],
   "org": "Analytical Engines", "title": "Countess", "tags": ["math", "VIP"],
   "birthday": "1815-12-10", "x": {"github": "ada"}},
  {"name": "Bo"},
  {"name": "Chidi Anagonye", "emails": ["chidi@example.edu", "c.a@example.edu"], "tags": []}
]
EOF
expect_ok kith_in "$H3" --json import "$T/partial.json"
check_eq "3|0" "$(jqs '"\(.contacts_new)|\(.notes)"' "$OUT")" "partial contacts: 3 new"
expect_ok kith_in "$H3" --json contact list
P=$OUT
check_eq 3 "$(jqs '[.[].id | select(test("^[0-9a-f]{32}$"))] | unique | length' "$P")" \
  "partial contacts get three distinct new ids"
check_eq 'Ada Lovelace|["ada@example.org"]|["+44 20 0000 0001"]|Analytical Engines|Countess|["VIP","math"]' \
  "$(jqs '.[] | select(.name == "Ada Lovelace") | "\(.name)|\(.emails|tojson)|\(.phones|tojson)|\(.org)|\(.title)|\(.tags|sort|tojson)"' "$P")" \
  "a partial contact's fields are all there"
ADA=$(jqs '.[] | select(.name == "Ada Lovelace") | .id' "$P")
check_eq "1815-12-10|ada" "$(kith_in "$H3" --json contact show "$ADA" | jq -r '"\(.birthday)|\(.x.github)"')" \
  "a partial contact's birthday and x- field"
check_eq '[]|[]|null' "$(jqs '.[] | select(.name == "Bo") | "\(.emails|tojson)|\(.tags|tojson)|\(.org|tojson)"' "$P")" \
  "a contact with only a name"
check_eq '["c.a@example.edu","chidi@example.edu"]' \
  "$(jqs '.[] | select(.name == "Chidi Anagonye") | .emails | sort | tojson' "$P")" "two e-mails"
expect_ok kith_in "$H3" --json contact list --tag math
check_eq "$ADA" "$(jqs '.[].id' "$OUT")" "an imported tag is indexed"
echo '{"name": "Dee Single", "org": "One Object"}' >"$T/single.json"
expect_ok kith_in "$H3" import "$T/single.json"
check_eq "One Object" "$(kith_in "$H3" --json contact list --search "dee single" | jq -r '.[0].org')" \
  "a single contact object imports too"

# ---- a stamp in 2100 is refused, and nothing is imported -----------------------------------
FUTURE=$(printf '%016x' $((4102444800000 << 16))) # 2100-01-01T00:00:00Z, counter 0
jq --arg f "$FUTURE" '.contacts[2].stamps.name |= ($f + (. | sub("^[0-9a-f]+"; "")))' \
  "$T/e1.json" >"$T/future.json"
check_match "^$FUTURE-" "$(jq -r '.contacts[2].stamps.name' "$T/future.json")" \
  "the forged file has a 2100 stamp on its third contact"
H4="$T/h4"
new_home "$H4"
expect_error 65 "future|ahead|clock" kith_in "$H4" import "$T/future.json"
check_eq "0|0" "$(count_contacts "$H4")|$(count_notes "$H4")" "a 2100 stamp: nothing imported"
BEFORE1=$(kith_in "$H1" --json contact list)
expect_error 65 "future|ahead|clock" kith_in "$H1" import "$T/future.json"
check_eq "$BEFORE1" "$(kith_in "$H1" --json contact list)" "a 2100 stamp: an existing home is unchanged"
jq --arg f "$FUTURE" --arg z "$ZOE" \
  '.contacts |= map(if .id == $z then .notes[0].stamps.text |= ($f + (. | sub("^[0-9a-f]+"; ""))) else . end)' \
  "$T/e1.json" >"$T/future-note.json"
check_eq 1 "$(grep -c "\"$FUTURE-" "$T/future-note.json")" "the forged file has a 2100 stamp on a note"
expect_error 65 "future|ahead|clock" kith_in "$H4" import "$T/future-note.json"
check_eq "0|0" "$(count_contacts "$H4")|$(count_notes "$H4")" "a 2100 stamp on a note: nothing imported"

# ---- --dry-run writes nothing ------------------------------------------------------------
H5="$T/h5"
new_home "$H5"
kith_in "$H5" contact add --name "Already Here" >/dev/null || fail "contact add"
SUM=$(sha256sum <"$H5/data.mdb")
LIST5=$(kith_in "$H5" --json contact list)
expect_ok kith_in "$H5" import --dry-run "$T/e1.json"
check_contains "$OUT" "$N_CONTACTS new contact" "--dry-run says what it would import"
expect_ok kith_in "$H5" --json import --dry-run "$T/partial.json"
check_eq "3|true" "$(jqs '"\(.contacts_new)|\(.dry_run)"' "$OUT")" "--dry-run --json"
check_eq "$LIST5" "$(kith_in "$H5" --json contact list)" "--dry-run: the contacts are unchanged"
check_eq "$SUM" "$(sha256sum <"$H5/data.mdb")" "--dry-run: data.mdb is byte-identical"
expect_error 65 "nothing imported" kith_in "$H5" import --dry-run "$T/future.json"

# ---- import - reads standard input ---------------------------------------------------------
H6="$T/h6"
new_home "$H6"
run_in "$T/e1.json" kith_in "$H6" import -
check_eq 0 "$RC" "import - reads an export from stdin ($ERR)"
check_eq "$N_CONTACTS|$N_NOTES" "$(count_contacts "$H6")|$(count_notes "$H6")" "import - imported it all"
expect_ok kith_in "$H6" import "$T/e3.json" # the origin has merged the copy's edit since
same_view "$H1" "$H6" "a copy made through stdin"
run_in "$T/partial.json" kith_in "$H6" --json import -
check_eq "0|3" "$RC|$(jqs .contacts_new "$OUT")" "import - reads partial contacts from stdin"

finish
