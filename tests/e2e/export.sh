# kith export with the real binary: vCard 4.0 and CSV of a few contacts (exact
# lines: escaping, N/ORG components, kinds as TYPE, BDAY forms, notes, x fields,
# CRLF, folding), id order, stdout and -o the same bytes, -o whole or not at all,
# an empty store, bad formats, and a vCard round trip into a fresh home.
. "$(dirname "$0")/lib.sh"

new_home "$KHOME"

# ---- contacts with something to escape, from a JSON import (new ids) -----------------
long=$(printf 'a%.0s' $(seq 1 69))
cat >"$T/in.json" <<EOF
[{"name": "Ada, Countess; of Lovelace", "given_name": "Ada", "family_name": "King",
  "org": "Analytical Engines, Ltd", "title": "Analyst", "birthday": "1815-12-10",
  "nickname": "Enchantress", "met_at": "Royal Society", "needs": "a lathe",
  "offers": "programs; notes",
  "emails": ["ada@engine.example", "ada@home.example"], "phones": ["+44 20 7946 0018"],
  "kinds": {"emails": {"ada@engine.example": "work"}, "phones": {"+44 20 7946 0018": "cell"}},
  "addresses": [{"kind": "home", "street": "12 St James's Square\nFlat 2",
                 "locality": "London", "code": "SW1Y 4JH", "country": "UK"}],
  "links": ["https://ada.example"], "ims": ["xmpp:ada@jabber.example"],
  "tags": ["math", "vip, gold"],
  "x": {"github": "ada", "role": "Patron", "org-units": "Engines; Notes", "Shoe Size": "6"},
  "notes": [{"text": "Met at the Society.\nTalked about engines, cards; looms."},
            {"text": "${long}€ after the fold"}]},
 {"name": "Mary Somerville", "birthday": "--03-22", "tags": ["science"]},
 {"name": "Zoë Keller", "emails": ["zoe@example.org"], "follow_up": "2026-12-01"}]
EOF
expect_ok kith import "$T/in.json"
ids=$(kith --json contact list | jq -r '.[].id')
check_eq 3 "$(wc -l <<<"$ids")" "three contacts"
ada=$(kith --json contact list | jq -r '.[] | select(.given_name == "Ada") | .id')
uuid() { printf '%s-%s-%s-%s-%s' "${1:0:8}" "${1:8:4}" "${1:12:4}" "${1:16:4}" "${1:20:12}"; }

# ---- --help and errors -------------------------------------------------------------------
expect_ok kith export --help
check_match '^usage: kith export \[--format json\|vcard\|csv\]' "$OUT" "export --help: usage"
for f in "  json " "  vcard " "  csv " "faithful copy" "no stamps"; do
  check_contains "$OUT" "$f" "export --help says what each format keeps ($f)"
done
expect_error 64 "unknown format 'xml'" kith export --format xml
expect_error 64 "unknown format 'xml'" kith export --format xml -o "$T/never.vcf"
check "a refused export writes no file" test ! -e "$T/never.vcf"
expect_error 64 "unexpected argument" kith export --format vcard extra

# ---- vCard on stdout ---------------------------------------------------------------------
expect_ok kith export --format vcard
kith export --format vcard >"$T/out.vcf"
V=$(tr -d '\r' <"$T/out.vcf")
check_eq 3 "$(grep -c '^BEGIN:VCARD$' <<<"$V")" "one card per contact"
check_eq 3 "$(grep -c '^END:VCARD$' <<<"$V")" "... each ended"
check_eq "$(wc -l <"$T/out.vcf")" "$(grep -c $'\r$' "$T/out.vcf")" "every line ends in CRLF"
check_eq 0 "$(LC_ALL=C awk 'length($0) > 76' "$T/out.vcf" | wc -l)" \
  "no line over 75 octets (76 with its CR)"
check_eq 1 "$(LC_ALL=C awk 'length($0) == 75' "$T/out.vcf" | wc -l)" \
  "one line is folded before the character that would make it 77 octets"
# in id order: the UIDs as the sorted ids
want_uids=$(for id in $ids; do echo "UID:urn:uuid:$(uuid "$id")"; done)
check_eq "$want_uids" "$(grep '^UID:' <<<"$V")" "cards in id order, the id as UID"
# Ada's card, line by line (the order of the properties is fixed)
ada_card=$(awk -v u="UID:urn:uuid:$(uuid "$ada")" \
  '/^BEGIN:VCARD$/ { buf = ""; keep = 0 } { buf = buf $0 "\n" } $0 == u { keep = 1 }
   /^END:VCARD$/ && keep { printf "%s", buf }' <<<"$V")
want=$(cat <<EOF
BEGIN:VCARD
VERSION:4.0
PRODID:-//kith//kith $(kith --version | cut -d' ' -f2)//EN
UID:urn:uuid:$(uuid "$ada")
FN:Ada\\, Countess\\; of Lovelace
N:King;Ada;;;
NICKNAME:Enchantress
ORG:Analytical Engines\\, Ltd;Engines;Notes
TITLE:Analyst
BDAY:18151210
EMAIL;TYPE=work:ada@engine.example
EMAIL:ada@home.example
TEL;VALUE=text;TYPE=cell:+44 20 7946 0018
ADR;TYPE=home:;;12 St James's Square\\nFlat 2;London;;SW1Y 4JH;UK
URL:https://ada.example
IMPP:xmpp:ada@jabber.example
CATEGORIES:math,vip\\, gold
X-KITH-MET-AT:Royal Society
X-KITH-NEEDS:a lathe
X-KITH-OFFERS:programs\\; notes
X-GITHUB:ada
ROLE:Patron
X-KITH-X;X-NAME="Shoe Size":6
EOF
)
# the notes are in note id order (random ids): checked apart
check_eq "$want" "$(grep -Ev '^(REV:|END:VCARD$|NOTE:| )' <<<"$ada_card")" "Ada's card, exactly"
check_contains "$ada_card" $'\nNOTE:Met at the Society.\\nTalked about engines\\, cards\\; looms.\n' \
  "a note: newline, comma and semicolon escaped"
check_contains "$ada_card" $'\nNOTE:'"$long"$'\n \u20ac after the fold\n' \
  "a note folded before the 3-octet character that would end at octet 77"
check_match '^REV:[0-9]{8}T[0-9]{6}Z$' "$(grep '^REV:' <<<"$ada_card")" "REV: the updated time"
check_contains "$V" $'\nBDAY:--0322\n' "a birthday without a year"
check_contains "$V" $'\nFN:Zoë Keller\n' "UTF-8 as it is"
check_contains "$V" $'\nX-KITH-FOLLOW-UP:2026-12-01\n' "kith's own fields as X-KITH-*"

# ---- -o: the same bytes, written whole, nothing left beside ---------------------------
mkdir "$T/dir"
echo "old content" >"$T/dir/c.vcf"
expect_ok kith export --format vcard -o "$T/dir/c.vcf"
check_eq "" "$OUT" "export -o prints nothing on stdout"
check_contains "$ERR" "Exported 3 contacts to $T/dir/c.vcf" "export -o says how many"
check "-o and stdout: the same bytes" cmp -s "$T/out.vcf" "$T/dir/c.vcf"
check_eq "c.vcf" "$(ls "$T/dir")" "no temporary file left beside"
expect_ok kith --json export --format vcard -o "$T/dir/c.vcf"
check_eq "{\"file\":\"$T/dir/c.vcf\",\"contacts\":3}" "$(jq -c . <<<"$OUT")" "export -o --json"
expect_exit 74 kith export --format vcard -o "$T/missing/c.vcf"
check_eq 1 "$(wc -l <"$T/err")" "an unwritable -o: one line on stderr"
check "... and no file" test ! -e "$T/missing"

# ---- CSV ------------------------------------------------------------------------------
expect_ok kith export --format csv
kith export --format csv >"$T/out.csv"
check_contains "$(head -1 "$T/out.csv")" "E-mail 1 - Value" "CSV header names the columns"
check_contains "$(cat "$T/out.csv")" '"Analytical Engines, Ltd"' "CSV quotes a value with a comma"
check_contains "$(cat "$T/out.csv")" "zoe@example.org" "CSV: Zoë's e-mail"
check_contains "$(cat "$T/out.csv")" "Mary Somerville" "CSV: Mary"
check_eq 1 "$(grep -c 'E-mail 1 - Value' "$T/out.csv")" "CSV: one header row"
expect_ok kith export --format csv -o "$T/dir/c.csv"
check "CSV: -o and stdout the same bytes" cmp -s "$T/out.csv" "$T/dir/c.csv"

# ---- an empty store --------------------------------------------------------------------
E=$T/empty
new_home "$E"
expect_ok kith_in "$E" export --format vcard -o "$T/empty.vcf"
check_eq 0 "$(stat -c %s "$T/empty.vcf")" "an empty store: an empty vCard file"
expect_ok kith_in "$E" export --format vcard
check_eq "" "$OUT" "... and nothing on stdout"
expect_ok kith_in "$E" export --format csv -o "$T/empty.csv"
check_eq 1 "$(tr -d '\r' <"$T/empty.csv" | grep -c .)" "an empty store: the CSV header only"
check "... the same header" test "$(head -1 "$T/empty.csv")" = "$(head -1 "$T/out.csv")"

# ---- round trip: export, import into a fresh home, the same contacts --------------------
R=$T/round
new_home "$R"
expect_ok kith_in "$R" import "$T/out.vcf" --format vcard
# x "Shoe Size" (not a property name) goes out as X-KITH-X;X-NAME="Shoe Size": and
# comes back by that name
norm='map(del(.id, .created, .updated) | if .x then .x |= del(.uid) else . end
          | if .x == {} then del(.x) else . end) | sort_by(.name)'
check_eq "$(kith --json contact list | jq -S "$norm")" \
  "$(kith_in "$R" --json contact list | jq -S "$norm")" \
  "vCard round trip: the same contacts (ids, times and the UID aside)"
check_eq "$(kith --json note list | jq -S 'map(.text) | sort')" \
  "$(kith_in "$R" --json note list | jq -S 'map(.text) | sort')" "... and the same notes"
shoe=$(kith_in "$R" --json contact list | jq -c '.[] | select(.given_name == "Ada") | .x')
check_eq '"6"' "$(jq -c '."Shoe Size"' <<<"$shoe")" "an x name that is no property name comes back"
check_eq "$want_uids" "$(kith_in "$R" export --format vcard | tr -d '\r' | grep '^UID:' | sort)" \
  "... and the same UIDs out again"
finish
