# My card end to end with the real binary: Ada's laptop and phone (linked) and her
# partner Bea. `kith card` before anything is set (the user name stands in), `card
# set` with contact set's FIELD=VALUE (kinds, list fields, clearing, x-NAME, unknown
# and private fields refused, all or nothing), the --json shape, and where the card
# is not: contact list and search, export, share (refused), import (refused), Bea's
# store after syncs; where it is: the phone, edits from both devices merged.
. "$(dirname "$0")/lib.sh"

A=$T/ada P=$T/phone B=$T/bea

card_json() { kith_in "$1" --json card; }

expect_ok kith_in "$A" init --name "Ada Lovelace" --device laptop
expect_ok kith_in "$B" init --name Bea --device tablet
pair_homes "$A" "$P" --device --listen 127.0.0.1:0
pair_homes "$A" "$B" --listen 127.0.0.1:0

# ---- --help ----------------------------------------------------------------------
expect_ok kith_in "$A" card --help
check_match '^usage: kith card' "$OUT" "card --help"
fields=$(grep '^fields:' <<<"$OUT")
check_contains "$fields" " emails" "card --help lists the fields"
check_not_contains "$fields" " tags" "... but not tags"
check_not_contains "$fields" "met_at" "... nor met_at"
expect_ok kith_in "$A" card set --help
check_match '^usage: kith card' "$OUT" "card set --help"
expect_ok kith_in "$A" --help
check_contains "$OUT" "card" "kith --help lists card"

# ---- never set: the user name stands in --------------------------------------------
expect_ok kith_in "$A" --json card
check_eq '["Ada Lovelace",[],[],null,null,null]' \
  "$(jq -c '[.name, .emails, .phones, .org, .title, .created]' <<<"$OUT")" "card --json before any set"
check_match '^[0-9a-f]{32}$' "$(jqs .id "$OUT")" "the card has an id"
CARD=$(jqs .id "$OUT")
expect_ok kith_in "$A" card
check_eq "Ada Lovelace" "$(head -1 <<<"$OUT")" "card: the name first"
check_contains "$ERR" "no details yet" "card says how to add details"

# ---- set ------------------------------------------------------------------------------
expect_ok kith_in "$A" card set email=work:ada@engine.example "phone=cell:+44 20 7946 0018" \
  org="Analytical Engines" title=Analyst links=https://ada.example x-github=ada needs="a lathe"
check_eq "" "$OUT" "card set prints nothing"
expect_ok kith_in "$A" --json card
J=$OUT
check_eq '["id","name","emails","phones","org","title","needs","links","x","kinds","created","updated"]' \
  "$(jq -c keys_unsorted <<<"$J")" "card --json: shaped like a contact, without tags"
check_eq '["Ada Lovelace",["ada@engine.example"],["+44 20 7946 0018"],"Analytical Engines","Analyst"]' \
  "$(jq -c '[.name, .emails, .phones, .org, .title]' <<<"$J")" "card --json: the fields set"
check_eq '{"emails":{"ada@engine.example":"work"},"phones":{"+44 20 7946 0018":"cell"}}' \
  "$(jq -c .kinds <<<"$J")" "the kinds of e-mail and phone"
check_eq '{"github":"ada"}' "$(jq -c .x <<<"$J")" "x-NAME"
check_eq "$CARD" "$(jqs .id "$J")" "the same id once set"
expect_ok kith_in "$A" card set email=ada@home.example
check_eq '["ada@home.example"]' "$(card_json "$A" | jq -c .emails)" "a list field set to that one value"
expect_ok kith_in "$A" card set "name=Countess Lovelace"
check_eq '"Countess Lovelace"' "$(card_json "$A" | jq -c .name)" "a name of its own"
expect_ok kith_in "$A" card set name= title=
check_eq '["Ada Lovelace",null]' "$(card_json "$A" | jq -c '[.name, .title]')" \
  "cleared: the user name again, no title"
expect_ok kith_in "$A" --json card set title=Analyst
check_eq '"Analyst"' "$(jq -c .title <<<"$OUT")" "card set --json prints the card"
expect_ok kith_in "$A" card show
check_contains "$OUT" "Analytical Engines" "card show"

# ---- errors: one line, and nothing written ------------------------------------------
expect_error 65 "unknown field 'tags': your card holds your own details" kith_in "$A" card set tags=vip
expect_error 65 "unknown field 'met_at'" kith_in "$A" card set met_at=somewhere
expect_error 65 "unknown field 'follow_up'" kith_in "$A" card set follow_up=2026-01-01
expect_error 65 "unknown field 'colour'" kith_in "$A" card set colour=blue
expect_error 65 "not a date" kith_in "$A" card set birthday=someday
expect_error 64 "not FIELD=VALUE" kith_in "$A" card set org
expect_error 64 "missing FIELD=VALUE" kith_in "$A" card set
expect_error 64 "unknown subcommand" kith_in "$A" card nonsense
expect_error 64 "unexpected argument" kith_in "$A" card show extra
before=$(card_json "$A")
expect_exit 65 kith_in "$A" card set org=Elsewhere tags=vip
check_eq "$before" "$(card_json "$A")" "all or nothing: the org did not change"

# ---- not a contact ---------------------------------------------------------------------
expect_ok kith_in "$A" contact add --name "Charles Babbage" --email charles@engine.example
C=$OUT
check_eq "[\"$C\"]" "$(kith_in "$A" --json contact list | jq -c '[.[].id]')" "contact list: not the card"
check_eq "[\"$C\"]" "$(kith_in "$A" --json contact list --search engine | jq -c '[.[].id]')" \
  "search: the contact, not the card (both at engine.example)"
check_eq "[]" "$(kith_in "$A" --json contact list --search lovelace | jq -c '[.[].id]')" "search: never the card"
check_not_contains "$(kith_in "$A" export --format json)" "ada@home.example" "export: not the card"
expect_error 65 "no contact with id" kith_in "$A" contact show "$CARD"
expect_error 65 "your own card" kith_in "$A" share "$CARD" --with Bea
expect_error 65 "your own card" kith_in "$A" share "${CARD:0:8}" --with Bea
card_json "$A" >"$T/me.json"
before=$(card_json "$A")
expect_error 65 "another kind" kith_in "$A" import "$T/me.json"
check_eq "$before" "$(card_json "$A")" "an import naming the card's id changes nothing"
check_eq 1 "$(kith_in "$A" --json contact list | jq length)" "... and adds no contact"

# ---- my devices hold it; my partner never does -----------------------------------------
expect_ok kith_in "$A" share "$C" --with Bea
serve_start "$A" "$T/serve.a" || finish
expect_ok kith_in "$P" sync --addr "$SERVE_ADDR"
expect_ok kith_in "$B" sync --addr "$SERVE_ADDR"
check_eq "$(card_json "$A")" "$(card_json "$P")" "the phone holds the same card"
check_eq '"Bea"' "$(card_json "$B" | jq -c .name)" "Bea's card is her own"
exp=$(kith_in "$B" export --format json)
check_contains "$exp" "Charles Babbage" "Bea holds the card Ada shared"
for s in ada@home.example "Analytical Engines" "a lathe" ada.example; do
  check_not_contains "$exp" "$s" "Bea's export holds nothing of Ada's card ($s)"
done
# offline edits on both devices merge
expect_ok kith_in "$P" card set title=Mathematician
expect_ok kith_in "$A" card set org="Engine Works"
expect_ok kith_in "$P" sync --addr "$SERVE_ADDR"
check_eq '["Mathematician","Engine Works"]' "$(card_json "$A" | jq -c '[.title, .org]')" \
  "edits from the phone and the laptop both hold on the laptop"
check_eq "$(card_json "$A")" "$(card_json "$P")" "... and on the phone"
serve_stop "$SERVE_PID"

# ---- card --format vcard, -o, --qr ------------------------------------------------------
Y=$T/cy
expect_ok kith_in "$Y" init --name "Cy Young" --device desk
expect_ok kith_in "$Y" card --format vcard
prodid="PRODID:-//kith//kith $(kith_in "$Y" --version | cut -d' ' -f2)//EN"
check_eq $'BEGIN:VCARD\r\nVERSION:4.0\r\n'"$prodid"$'\r\nFN:Cy Young\r\nEND:VCARD\r' "$OUT" \
  "card --format vcard before any set: the user name; no UID (the card id is everyone's)"
expect_ok kith_in "$Y" card set email=work:cy@example.org "phone=cell:+1 555 0100" \
  "org=Young, Young & Co" title=Pitcher "address=home:1 Elm St, Springfield" x-github=cy \
  "needs=a catcher; gloves" birthday=--07-04
expect_ok kith_in "$Y" card --format vcard
kith_in "$Y" card --format vcard >"$T/cy.vcf"
check_eq "$(wc -l <"$T/cy.vcf")" "$(grep -c $'\r$' "$T/cy.vcf")" "card vCard: CRLF line ends"
check_eq "BEGIN:VCARD
VERSION:4.0
$prodid
FN:Cy Young"'
ORG:Young\, Young & Co
TITLE:Pitcher
BDAY:--0704
EMAIL;TYPE=work:cy@example.org
TEL;VALUE=text;TYPE=cell:+1 555 0100
ADR;TYPE=home:;;1 Elm St;Springfield;;;
X-KITH-NEEDS:a catcher\; gloves
X-GITHUB:cy
END:VCARD' "$(tr -d '\r' <"$T/cy.vcf" | grep -v '^REV:')" "card --format vcard: the exact lines"
check_match $'\nREV:[0-9]{8}T[0-9]{6}Z\r\nEND:VCARD' "$(cat "$T/cy.vcf")" "... and REV"
expect_ok kith_in "$Y" card show --format vcard -o "$T/cy-o.vcf"
check_eq "" "$OUT" "card -o: nothing on stdout"
check "card -o: the same bytes as stdout" cmp -s "$T/cy.vcf" "$T/cy-o.vcf"
expect_ok kith_in "$Y" --json card --format vcard
check_eq "$(cat "$T/cy.vcf")" "$(jq -j .vcard <<<"$OUT")" "card --json --format vcard: {\"vcard\": text}"
expect_error 64 "unknown format 'xml'" kith_in "$Y" card --format xml
expect_error 64 "-o writes the vCard" kith_in "$Y" card -o "$T/x.vcf"
expect_error 64 "-o writes the vCard" kith_in "$Y" card --qr -o "$T/x.vcf"
expect_error 64 "unexpected argument" kith_in "$Y" card --format vcard extra
check "refused: no file" test ! -e "$T/x.vcf"

expect_ok kith_in "$Y" card --qr
check_eq "" "$ERR" "card --qr: nothing on stderr for a card that fits"
check_contains "$OUT" "█" "card --qr draws blocks"
rows=$(wc -l <<<"$OUT")
widths=$(while IFS= read -r l; do echo "${#l}"; done <<<"$OUT" | sort -u)
check_eq 1 "$(wc -l <<<"$widths")" "card --qr: every row as wide"
check "card --qr: a square code (rows about half the width)" \
  test $((widths / 2)) -le "$rows" -a "$rows" -le $((widths / 2 + 2))
expect_ok kith_in "$Y" --json card --qr
check_eq "$(cat "$T/cy.vcf")" "$(jq -j .vcard <<<"$OUT")" "card --json --qr: the vCard the code holds"
check_eq '[]' "$(jq -c .left_out <<<"$OUT")" "... with nothing left out"
# too big for a QR code: the photo goes first, then the other free fields (lower
# case: upper-case letters and digits pack denser in a QR code)
big=$(head -c 3000 /dev/zero | tr '\0' p)
expect_ok kith_in "$Y" card set "x-photo=data:image/png;base64,$big"
expect_ok kith_in "$Y" card --qr
check_eq "kith: your card is too big for a QR code: left out x-photo" "$ERR" \
  "card --qr: the photo left out, and said"
check_contains "$OUT" "█" "... and the code drawn"
expect_ok kith_in "$Y" --json card --qr
check_eq '["x-photo"]' "$(jq -c .left_out <<<"$OUT")" "card --json --qr: left_out"
check_contains "$(jq -r .vcard <<<"$OUT")" "X-GITHUB:cy" "... the other free fields kept"
expect_ok kith_in "$Y" card set "x-bio=$big"
expect_ok kith_in "$Y" --json card --qr
check_eq '["x-photo","x-bio","x-github"]' "$(jq -c .left_out <<<"$OUT")" \
  "then every free field"
expect_ok kith_in "$Y" card set "title=$big"
expect_error 65 "too big for a QR code, even without its free fields" kith_in "$Y" card --qr
expect_ok kith_in "$Y" card --format vcard
check_contains "$OUT" $'\r\nPHOTO:data:image/png;base64,pppp' "... while --format vcard writes the whole card"
finish
