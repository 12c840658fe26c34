#!/usr/bin/env bash
# import.sh — kith import of other tools' files, through the real binary: every
# file of ../shared/vectors/vcard imports (no crash, no sanitizer report), values
# from its EXPECTED.md come out in --json, the format is guessed, a re-import
# merges instead of duplicating and writes nothing when nothing changed, --dry-run
# shows and writes nothing, a malformed card is reported with its line and skipped
# while the rest import, LinkedIn and Google files by hand, and the vCard and CSV
# exports come back whole.
. "$(dirname "$0")/lib.sh"

V="${KITH_SHARED:-$(dirname "$0")/../../../shared}/vectors/vcard"
[ -d "$V" ] || { echo "no vectors at $V" >&2; exit 1; }

# ---- every file of the corpus ---------------------------------------------------
n=0
while IFS= read -r f; do
  n=$((n + 1))
  h="$T/corpus$n"
  new_home "$h"
  run kith_in "$h" import "$f"
  # 0, or 65 for a file with no contact in it; never a crash or a sanitizer report
  if [ "$RC" = 0 ] || [ "$RC" = 65 ]; then pass "import $f"; else
    fail "import $f exits $RC" "stderr: $(head -c 600 "$T/err")"
  fi
  check_not_contains "$(cat "$T/err")" "Sanitizer" "no sanitizer report for $f"
done < <(find "$V" -type f \( -name '*.vcf' -o -name '*.csv' \) | sort)
check_eq 78 "$n" "corpus files tried"

one() { # one FILE [import args...]: a fresh home with FILE imported; sets KHOME
  KHOME="$T/one.$RANDOM$RANDOM"
  new_home "$KHOME"
  expect_ok kith import "$@"
}
jc() { printf '%s' "$2" | jq -c "$1"; }
same_export() { # same_export A B: two JSON exports hold the same (when aside)
  cmp -s <(jq -S 'del(.exported)' "$1") <(jq -S 'del(.exported)' "$2")
}
contact() { # contact NAME: the --json of the contact of that name
  kith --json contact list | jq -c --arg n "$1" '[.[] | select(.name == $n)] | .[0]'
}

# ---- EXPECTED.md, section by section (what kith's model holds) ------------------
one "$V/ez-vcard/gmail-list.vcf"
check_eq 3 "$(count_contacts)" "gmail-list: 3 contacts"
check_eq '["asmithk@gmail.com"]' "$(contact "Arnold Smith" | jq -c .emails)" "Arnold's e-mail"
check_eq '["chrisy55d@yahoo.com"]' "$(contact "Chris Beatle" | jq -c .emails)" "Chris's e-mail"
check_eq '["dwhite@gmail.com"]' "$(contact "Doug White" | jq -c .emails)" "Doug's e-mail"
check_eq '[]' "$(contact "Doug White" | jq -c .phones)" "no phones"

one "$V/ez-vcard/John_Doe_IPHONE.vcf"
J=$(contact "Mr. John Richter James Doe Sr.")
check_eq '["john.doe@ibm.com"]' "$(jc .emails "$J")" "iPhone: grouped e-mail"
check_eq '["905-555-1234","905-666-1234","905-777-1234","905-888-1234","905-999-1234","905-111-1234","905-222-1234"]' \
  "$(jc .phones "$J")" "iPhone: 7 phones as written"
check_eq "IBM Money Counter 2012-06-06 Johny Doe John" \
  "$(jqs '"\(.org) \(.title) \(.birthday) \(.nickname) \(.family_name) \(.given_name)"' "$J")" \
  "iPhone: org, title, birthday, nickname, N"
check_eq '["http://www.ibm.com"]' "$(jc .links "$J")" "iPhone: Apple's \\: unescaped"
check_eq "Street4
Building 6
Floor 8" "$(jqs '.addresses[] | select(.country == "USA") | .street' "$J")" "iPhone: street with newlines"

one "$V/ez-vcard/John_Doe_EVOLUTION.vcf"
J=$(contact "Mr. John Richter, James Doe Sr.")
check_eq '["john.doe@ibm.com"]' "$(jc .emails "$J")" "Evolution: e-mail folded mid-value"
check_eq '["905-666-1234","905-555-1234"]' "$(jc .phones "$J")" "Evolution: phones"
check_eq "United States of America" "$(jqs '.addresses[0].country' "$J")" "fold keeps the second space"
check_eq 1980-03-22 "$(jqs .birthday "$J")" "Evolution: birthday"
check_eq '["VIP"]' "$(jc .tags "$J")" "CATEGORIES become tags"

one "$V/ez-vcard/John_Doe_ANDROID.vcf"
check_eq 6 "$(count_contacts)" "Android: 6 cards, two with only an e-mail"
check_eq 1 "$(kith --json contact list | jq '[.[] | select(.emails == ["john.doe@company.com"])] | length')" \
  "Android: the e-mail-only card is kept"

one "$V/thunderbird/export.vcf"
J=$(contact "contact number two")
check_eq '"worker"' "$(jqs .title "$J")" "Thunderbird: quotes are part of the title"
check_eq "$(printf 'custom\r3')" "$(jqs '.x.custom3' "$J")" "a bare CR inside a value is data"
check_eq "$(printf 'custom\t2')" "$(jqs '.x.custom2' "$J")" "a raw TAB"
check_eq "custom, 1" "$(jqs '.x.custom1' "$J")" "an escaped comma"

one "$V/roundcube/utf-16_sample.vcf"
check_eq '["Ǽgean ĽdaMonté"]' "$(kith --json contact list | jq -c '[.[].name]')" "UTF-16BE without a BOM"

one "$V/android-vcard/v21_multiple_entry.vcf"
check_eq '["安藤ロイド3","安藤ロイド4","安藤ロイド5"]' \
  "$(kith --json contact list | jq -c '[.[].name] | sort')" "Shift_JIS names"

one "$V/roundcube/gmail.csv"
J=$(contact "Prefix Firstname Middle Lastname Suffix")
check_eq '["home@aaa.pl","work@email.pl","unknown@email.com","other@email.com"]' \
  "$(jc .emails "$J")" "Google CSV: 4 e-mails"
check_eq 7 "$(jqs '.phones | length' "$J")" "Google CSV: 7 phones"
check_eq "company jobtitle 1975-12-12" "$(jqs '"\(.org) \(.title) \(.birthday)"' "$J")" "Google CSV: org, title, birthday"

one "$V/thunderbird/export.csv"
check_eq '["contact number one","contact number two"]' \
  "$(kith --json contact list | jq -c '[.[].name] | sort')" "Thunderbird CSV"

# ---- the format is guessed from the content, not the name -------------------------
KHOME="$T/guess"
new_home "$KHOME"
cp "$V/ez-vcard/gmail-list.vcf" "$T/contacts.txt"
expect_ok kith --json import "$T/contacts.txt"
check_eq vcard "$(jqs .format "$(cat "$T/out")")" "vCard guessed"
expect_error 65 "contacts.txt" kith import "$T/contacts.txt" --format json
expect_error 64 "unknown format" kith import "$T/contacts.txt" --format yaml

# ---- re-import: merged, not duplicated; the same file writes nothing --------------
KHOME="$T/again"
new_home "$KHOME"
cat >"$T/a.vcf" <<'EOF'
BEGIN:VCARD
VERSION:3.0
UID:card-ada
FN:Ada Lovelace
N:Lovelace;Ada;;;
EMAIL;TYPE=WORK:ada@engine.example
NOTE:Met at the Analytical Engine meetup
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Bo Chen
EMAIL:bo@chen.example
END:VCARD
EOF
expect_ok kith import "$T/a.vcf"
check_eq 2 "$(count_contacts)" "two contacts"
kith export -o "$T/before.json" || fail "export"
expect_ok kith --json import "$T/a.vcf"
check_eq "0 0 2" "$(jq -r '"\(.contacts_new) \(.contacts_merged) \(.contacts_unchanged)"' "$T/out")" \
  "the same file again: all unchanged"
kith export -o "$T/after.json" || fail "export"
check "nothing written by a re-import" same_export "$T/before.json" "$T/after.json"
# the same people, changed: by UID (a new e-mail), by e-mail in another case (a title)
cat >"$T/b.vcf" <<'EOF'
BEGIN:VCARD
VERSION:4.0
UID:CARD-ADA
FN:Ada Lovelace
EMAIL:ada@poetical.example
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Bo Chen
EMAIL:BO@chen.example
TITLE:Founder
END:VCARD
EOF
expect_ok kith --json import "$T/b.vcf" --dry-run
check_eq "0 2 true" "$(jq -r '"\(.contacts_new) \(.contacts_merged) \(.dry_run)"' "$T/out")" "dry run: two merges"
check_eq '["emails"] ["title"]' "$(jq -r '[.changes[].fields | tostring] | join(" ")' "$T/out")" \
  "dry run: what each merge changes"
kith export -o "$T/after.json" || fail "export"
check "a dry run writes nothing" same_export "$T/before.json" "$T/after.json"
expect_ok kith import "$T/b.vcf" --dry-run
check_match "^merge +line 1 +Ada Lovelace: emails" "$(cat "$T/out")" "dry run, human: Ada's merge"
check_match "Would import 0 new contacts, merged 2" "$(cat "$T/out")" "dry run, human: summary"
expect_ok kith import "$T/b.vcf"
check_eq 2 "$(count_contacts)" "still two contacts"
check_eq '["ada@engine.example","ada@poetical.example"]' "$(contact "Ada Lovelace" | jq -c .emails)" \
  "merged by UID: both e-mails"
check_eq Founder "$(contact "Bo Chen" | jq -r .title)" "merged by e-mail: the title"
check_eq 1 "$(count_notes)" "the note not doubled"

# ---- a malformed card: reported with its line, the rest imported -------------------
KHOME="$T/bad"
new_home "$KHOME"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Good One\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Good Two\r\nEND:VCARD\r\n' >"$T/bad.vcf"
expect_ok kith import "$T/bad.vcf"
check_match "bad.vcf:5: " "$(cat "$T/err")" "the empty card reported at line 5"
check_eq 2 "$(count_contacts)" "the other two imported"
expect_ok kith --json import "$T/bad.vcf"
check_eq 5 "$(jq '.skipped[0].line' "$T/out")" "--json: the skipped card's line"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n' >"$T/none.vcf"
expect_exit 65 kith import "$T/none.vcf"
check_eq 2 "$(count_contacts)" "a file with nothing readable adds nothing"

# ---- LinkedIn's Connections.csv: preamble, dates; re-import by profile URL -----------
KHOME="$T/li"
new_home "$KHOME"
cat >"$T/Connections.csv" <<'EOF'
Notes:
"When exporting your connection data, you may notice that some of the email addresses are missing. You will only see email addresses for connections who have allowed their connections to see or download their email address using this setting https://www.linkedin.com/psettings/privacy/email. You can learn more here https://www.linkedin.com/help/linkedin/answer/261"

First Name,Last Name,URL,Email Address,Company,Position,Connected On
Kofi,Mensah,https://www.linkedin.com/in/kofimensah,,Acme Robotics,Head of Talent,24 Aug 2023
Ines,Duarte,https://www.linkedin.com/in/ines-duarte-12345,ines@duarte.example,Studio D,Founder,03 Jan 2024
EOF
expect_ok kith --json import "$T/Connections.csv"
check_eq "linkedin 2" "$(jq -r '"\(.format) \(.contacts_new)"' "$T/out")" "LinkedIn guessed, two new"
J=$(contact "Kofi Mensah")
check_eq "Acme Robotics|Head of Talent|https://www.linkedin.com/in/kofimensah" \
  "$(jqs '"\(.org)|\(.title)|\(.links[0])"' "$J")" "LinkedIn columns"
sed -i 's/Head of Talent/VP People/; s#https://www.linkedin.com/in/kofimensah#https://linkedin.com/in/KofiMensah/#' "$T/Connections.csv"
expect_ok kith --json import "$T/Connections.csv"
check_eq "0 1 1" "$(jq -r '"\(.contacts_new) \(.contacts_merged) \(.contacts_unchanged)"' "$T/out")" \
  "re-import: Kofi found by his profile URL"
check_eq 2 "$(count_contacts)" "no duplicate"
check_eq "VP People" "$(contact "Kofi Mensah" | jq -r .title)" "his new position"

# ---- Google Contacts, the current layout ---------------------------------------------
KHOME="$T/google"
new_home "$KHOME"
printf '\xef\xbb\xbfFirst Name,Middle Name,Last Name,Organization Name,Organization Title,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value\r\nMei,,Chen,Hooli,CFO,* myContacts ::: Investors,* Work ::: Home,mei@hooli.example ::: mei@home.example,Mobile,+1 555 0142\r\n' >"$T/google.csv"
expect_ok kith --json import "$T/google.csv" --format google
J=$(contact "Mei Chen")
check_eq '["mei@hooli.example","mei@home.example"]' "$(jc .emails "$J")" "Google: ' ::: ' values"
check_eq "Hooli CFO +1 555 0142" "$(jqs '"\(.org) \(.title) \(.phones[0])"' "$J")" "Google: org, title, phone"

# ---- export and import again: vCard and CSV keep every field -------------------------
KHOME="$T/src"
new_home "$KHOME"
Z=$(kith contact add --name "Zoë Keller" --email work:zoe@keller.studio --phone "cell:+44 20 7946 0018" \
  --org "Keller Studio" --title "Design lead" --tag climate --tag "Founders, Inc" --met-at "Climate Tech Meetup" \
  --needs "a frontend contractor" --offers "intros; design reviews" --link https://www.linkedin.com/in/zoek \
  --nickname Zo --birthday 1985-07-14) || fail "contact add"
kith contact set "$Z" "address=work:1 Main St, Springfield, IL, 62701, USA" x-github=zoek \
  follow_up=2031-01-15 >/dev/null || fail "contact set"
kith note add "$Z" "Coffee next week; she can introduce me to two funds" >/dev/null || fail "note add"
kith note add "$Z" "Line one
line two, with a comma" >/dev/null || fail "note add"
kith contact add --name "王小明" --email wang@example.cn >/dev/null || fail "contact add"
strip='[.[] | del(.id, .created, .updated, .x.uid) | if .x == {} then del(.x) else . end
  | .notes = ([.notes[]?.text] | sort)] | sort_by(.name)'
kith --json contact list >/dev/null
want=$(for id in $(kith --json contact list | jq -r '.[].id'); do kith --json contact show "$id"; done | jq -s -c "$strip")
for fmt in vcard csv; do
  expect_ok kith export --format $fmt -o "$T/out.$fmt"
  h="$T/rt.$fmt"
  new_home "$h"
  expect_ok kith_in "$h" import "$T/out.$fmt"
  got=$(for id in $(kith_in "$h" --json contact list | jq -r '.[].id'); do kith_in "$h" --json contact show "$id"; done | jq -s -c "$strip")
  check_eq "$want" "$got" "$fmt export, imported into a new home: every field and note"
  expect_ok kith_in "$h" --json import "$T/out.$fmt"
  check_eq "0 0" "$(jq -r '"\(.contacts_new) \(.contacts_merged)"' "$T/out")" "$fmt: imported again, nothing changes"
done
# and the round trip's vCard is the original's, but for when it was made
cards() { # the cards of a vCard file, one per line, sorted, without REV
  grep -v '^REV:' "$1" | tr -d '\r' | awk '/^END:VCARD/ { print card; card = ""; next }
    { card = card "|" $0 }' | sort
}
kith_in "$T/rt.vcard" export --format vcard -o "$T/again.vcf" >/dev/null
cards "$T/again.vcf" >"$T/second.vcf"
cards "$T/out.vcard" >"$T/first.vcf"
check_eq "$(cat "$T/first.vcf")" "$(cat "$T/second.vcf")" "vCard exported again is the same"

finish
