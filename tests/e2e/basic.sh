#!/usr/bin/env bash
# basic.sh — the everyday commands, as a user types them: init and whoami, contacts
# (add, list, show, set, rm), notes, search and tags, the home folder, --help.
. "$(dirname "$0")/lib.sh"

HEX32='^[0-9a-f]{32}$'

# ---- init and whoami ------------------------------------------------------------
expect_ok kith init --name "Ann Example" --device laptop
check_contains "$OUT" "Created a kith store in $KHOME" "init says where the store is"
check_match '^name: +Ann Example$' "$(grep '^name:' "$T/out")" "init shows the name"
check_eq "" "$ERR" "init writes nothing on stderr"

expect_ok kith --json whoami
WHO=$OUT
check_eq "1" "$(printf '%s\n' "$WHO" | wc -l | tr -d ' ')" "whoami --json is one line"
check_eq "Ann Example" "$(jqs .name "$WHO")" "whoami --json name"
check_eq "laptop" "$(jqs .device "$WHO")" "whoami --json device"
check_match "$HEX32" "$(jqs .device_id "$WHO")" "whoami --json device_id is 32 hex digits"
check_match '^[0-9a-f]{64}$' "$(jqs .public_key "$WHO")" "whoami --json public_key is 64 hex digits"
check_match '^[0-9a-f]{4}( [0-9a-f]{4}){7}$' "$(jqs .fingerprint "$WHO")" \
  "whoami --json fingerprint is 8 groups of 4 hex digits"

expect_ok kith whoami
check_match "^device id: +$(jqs .device_id "$WHO")\$" "$(grep '^device id:' "$T/out")" \
  "human whoami shows the same device id"
check_match "^public key: +$(jqs .public_key "$WHO")\$" "$(grep '^public key:' "$T/out")" \
  "human whoami shows the same public key"
check_match "^fingerprint: +$(jqs .fingerprint "$WHO")\$" "$(grep '^fingerprint:' "$T/out")" \
  "human whoami shows the same fingerprint"
check_match "^device: +laptop\$" "$(grep '^device:' "$T/out")" "human whoami shows the device"

expect_ok kith_in "$T/jsoninit" --json init --name Bo --device phone
check_eq "Bo|phone" "$(jqs '.name + "|" + .device' "$OUT")" "init --json prints the identity"
check_match "$HEX32" "$(jqs .device_id "$OUT")" "init --json device_id"

# ---- contact add ------------------------------------------------------------------
expect_ok kith contact add --name "Zoë Ortiz" --email work:zoe@example.com \
  --phone "cell:+44 20 7946 0000" --org Acme --title CTO --tag VIP --tag climbing
ZOE=$OUT
check_match "$HEX32" "$ZOE" "contact add prints the id"
check_eq "1" "$(wc -l <"$T/out" | tr -d ' ')" "contact add prints one line"
check_eq "" "$ERR" "contact add writes nothing on stderr"

expect_ok kith --json contact add --name "Al Bright" --email al@example.com \
  --email al.b@work.example --phone 555-0100 --org "Bright & Co" --tag vip
AL_JSON=$OUT
AL=$(jqs .id "$AL_JSON")
check_match "$HEX32" "$AL" "contact add --json has the id"
check_eq "1" "$(printf '%s\n' "$AL_JSON" | wc -l | tr -d ' ')" "contact add --json is one line"
check_eq "true" "$(jqs 'has("id") and has("name") and has("emails") and has("phones") and has("org") and has("title") and has("tags") and has("created") and has("updated")' "$AL_JSON")" \
  "contact --json has id,name,emails,phones,org,title,tags,created,updated"
check_eq "true" "$(jqs '[.emails, .phones, .tags] | all(type == "array" and all(type == "string"))' "$AL_JSON")" \
  "emails, phones, tags are arrays of strings"
check_eq '["al.b@work.example","al@example.com"]' "$(jqs '.emails | sort | tojson' "$AL_JSON")" \
  "contact add --json emails"
check_eq '["555-0100"]|Bright & Co|null|["vip"]' \
  "$(jqs '(.phones|tojson) + "|" + .org + "|" + (.title|tojson) + "|" + (.tags|tojson)' "$AL_JSON")" \
  "contact add --json phones, org, title (null), tags"
check_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(jqs .created "$AL_JSON")" "created is an ISO time"
check_eq "true" "$(jqs '.updated >= .created' "$AL_JSON")" "a new contact: updated >= created"

expect_ok kith --json contact show "$ZOE"
check_eq "Zoë Ortiz|Acme|CTO" "$(jqs '.name + "|" + .org + "|" + .title' "$OUT")" "show --json fields"
check_eq '["zoe@example.com"]|["+44 20 7946 0000"]' "$(jqs '(.emails|tojson) + "|" + (.phones|tojson)' "$OUT")" \
  "kinds are not part of the values"
check_eq '["VIP","climbing"]' "$(jqs '.tags | sort | tojson' "$OUT")" "show --json tags"

for n in "charlie Day" "Émile Zola" "Bea Arthur"; do
  kith contact add --name "$n" >/dev/null || fail "contact add --name $n"
done

# ---- list -------------------------------------------------------------------------
expect_ok kith --json contact list
LIST=$OUT
check_eq 5 "$(jqs length "$LIST")" "list --json has every contact"
check_eq "$(jqs '[.[].id] | sort | tojson' "$LIST")" "$(jqs '[.[].id] | tojson' "$LIST")" \
  "list --json is sorted by id"
check_eq "true" "$(jqs 'all(.[]; has("id") and has("name") and has("emails") and has("phones") and has("tags"))' "$LIST")" \
  "list --json entries are contacts"

expect_ok kith contact list
NAMES=$(sed 1d "$T/out" | cut -c11- | sed -e 's/  .*//')
check_eq "$(printf '%s\n' "Al Bright" "Bea Arthur" "charlie Day" "Émile Zola" "Zoë Ortiz")" "$NAMES" \
  "human list is sorted by name, ignoring case and accents"
check_match '^ID +NAME' "$(head -n 1 "$T/out")" "human list has a header"
check_match "^${ZOE:0:8}  Zoë Ortiz" "$(grep Zoë "$T/out")" "human list starts rows with the short id"

# ---- show by prefix ----------------------------------------------------------------
# the shortest prefix of ZOE that no other id shares
ALL_IDS=$(jqs '.[].id' "$LIST")
PFX=""
for ((k = 1; k <= 32; k++)); do
  p=${ZOE:0:k}
  if [ "$(printf '%s\n' "$ALL_IDS" | grep -c "^$p")" = 1 ]; then PFX=$p; break; fi
done
expect_ok kith --json contact show "$PFX"
check_eq "$ZOE" "$(jqs .id "$OUT")" "show by the unique prefix '$PFX'"
expect_ok kith contact show "${ZOE:0:12}"
check_eq "Zoë Ortiz" "$(head -n 1 "$T/out")" "human show starts with the name"
check_contains "$OUT" "$ZOE" "human show shows the full id"
check_contains "$OUT" "zoe@example.com (work)" "human show shows the e-mail with its kind"
check_contains "$OUT" "+44 20 7946 0000 (cell)" "human show shows the phone with its kind"

# ---- set ----------------------------------------------------------------------------
expect_ok kith contact set "$AL" emails=only@example.com
check_eq "" "$OUT" "contact set prints nothing"
expect_ok kith --json contact show "$AL"
check_eq '["only@example.com"]' "$(jqs '.emails|tojson' "$OUT")" "emails=x sets exactly one e-mail"
expect_ok kith --json contact set "$AL" phones=cell:555-0199 tags=solo links=https://al.example \
  x-github=albright title=Founder
check_eq '["555-0199"]|["solo"]|["https://al.example"]|albright|Founder' \
  "$(jqs '(.phones|tojson) + "|" + (.tags|tojson) + "|" + (.links|tojson) + "|" + .x.github + "|" + .title' "$OUT")" \
  "set --json: phones=, tags=, links= set one value; x-github= a free field"
expect_ok kith --json contact set "$AL" email=second@example.com
check_eq '["second@example.com"]' "$(jqs '.emails|tojson' "$OUT")" "email=x (singular) also sets exactly one"
expect_ok kith --json contact set "$AL" org= x-github= title=
check_eq 'null|null|null' "$(jqs '(.org|tojson) + "|" + (.x.github|tojson) + "|" + (.title|tojson)' "$OUT")" \
  "an empty value clears org, title and x-github"
expect_ok kith --json contact set "$AL" emails= tags=
check_eq '[]|[]' "$(jqs '(.emails|tojson) + "|" + (.tags|tojson)' "$OUT")" "an empty value clears a list field"
expect_ok kith --json contact set "$AL" name="Alan Bright" birthday=1980-02-29
check_eq "Alan Bright|1980-02-29" "$(jqs '.name + "|" + .birthday' "$OUT")" "set name and birthday"
check_eq "true" "$(jqs '.updated > .created' "$OUT")" "updated moves forward after a set"

# ---- notes --------------------------------------------------------------------------
expect_ok kith contact show "$ZOE"
check_not_contains "$OUT" "last contacted" "no last_contacted before any note"
expect_ok kith note add "$ZOE" "Coffee in Zürich: she wants a Rust job"
N1=$OUT
check_match "$HEX32" "$N1" "note add prints the note id"
TODAY_UTC=$(date -u +%F) TODAY=$(date +%F)
expect_ok kith --json contact show "$ZOE"
LC=$(jqs .last_contacted "$OUT")
if [ "$LC" = "$TODAY_UTC" ] || [ "$LC" = "$TODAY" ]; then pass "note add sets last_contacted to today"
else fail "note add sets last_contacted" "expected: $TODAY_UTC" "actual:   $LC"; fi
check_eq "$N1" "$(jqs '.notes[0].id' "$OUT")" "show --json lists the contact's notes"

printf 'Call with Al\nabout the ZOË project\n\n' >"$T/note.txt"
run_in "$T/note.txt" kith note add "${AL:0:10}"
check_eq 0 "$RC" "note add reads the text from stdin (exit)"
N2=$OUT
check_match "$HEX32" "$N2" "note add from stdin prints the id"
expect_ok kith --json note list "$AL"
check_eq "$(printf 'Call with Al\nabout the ZOË project')" "$(jqs '.[0].text' "$OUT")" \
  "note from stdin: the text, trailing newlines dropped"
check_eq "$AL" "$(jqs '.[0].contact' "$OUT")" "the note points at its contact"

expect_ok kith --json note list
check_eq 2 "$(jqs length "$OUT")" "note list --json has all notes"
check_eq "$(jqs '[.[].id]|sort|tojson' "$OUT")" "$(jqs '[.[].id]|tojson' "$OUT")" "note list --json is sorted by id"
expect_ok kith note list
check_contains "$OUT" "Zoë Ortiz: Coffee in Zürich" "human note list shows who and what"
check_contains "$OUT" "${N1:0:8}" "human note list shows the short note id"

expect_ok kith note edit "${N1:0:12}" "Coffee in Zürich: she wants a Go job"
expect_ok kith --json note list "$ZOE"
check_eq "Coffee in Zürich: she wants a Go job" "$(jqs '.[0].text' "$OUT")" "note edit replaces the text"
printf 'edited from stdin\n' >"$T/edit.txt"
run_in "$T/edit.txt" kith --json note edit "$N1"
check_eq "0|edited from stdin" "$RC|$(jqs .text "$OUT")" "note edit reads stdin, --json shows the note"

expect_ok kith note rm "$N2"
expect_ok kith --json note list
check_eq "[\"$N1\"]" "$(jqs '[.[].id]|tojson' "$OUT")" "note rm removes the note"
expect_ok kith --json note list "$AL"
check_eq "[]" "$OUT" "a contact's notes after note rm"
expect_ok kith note list "$AL"
check_eq "" "$OUT" "human note list of a contact without notes prints nothing on stdout"

# ---- search and tags ------------------------------------------------------------------
C_NOTE=$(kith contact add --name "Cy Twombly") || fail "contact add Cy"
kith note add "$C_NOTE" "Lunch with ZOE's old team" >/dev/null || fail "note add for Cy"
C_MAIL=$(kith contact add --name "Di Prince" --email "ZoeFan@example.org") || fail "contact add Di"
kith contact add --name "Ed Nobody" --tag Vip >/dev/null || fail "contact add Ed"

names_of() { jq -r '[.[].name] | sort | join(",")' "$T/out"; }
expect_ok kith --json contact list --search zoe
check_eq "Cy Twombly,Di Prince,Zoë Ortiz" "$(names_of)" \
  "--search zoe finds Zoë (accent), a note's text and an e-mail, ignoring case"
expect_ok kith --json contact list --search "ZOË"
check_eq "Cy Twombly,Di Prince,Zoë Ortiz" "$(names_of)" "--search ZOË folds the query too"
expect_ok kith --json contact list --search "zürich"
check_eq "[]" "$OUT" "--search no longer finds the text a note had before its edit"
expect_ok kith --json contact list --search "edited from"
check_eq "Zoë Ortiz" "$(names_of)" "--search finds the edited note's text"
expect_ok kith --json contact list --search nobody-has-this
check_eq "[]" "$OUT" "--search with no match gives []"
expect_ok kith contact list --search nobody-has-this
check_eq "" "$OUT" "human list with no match prints nothing on stdout"

expect_ok kith --json contact list --tag vip
check_eq "Ed Nobody,Zoë Ortiz" "$(names_of)" "--tag vip matches VIP and Vip"
expect_ok kith --json contact list --tag VIP --tag CLIMBING
check_eq "Zoë Ortiz" "$(names_of)" "several --tag keep contacts with all of them"
expect_ok kith --json contact list --tag vip --search nobody
check_eq "Ed Nobody" "$(names_of)" "--tag and --search together"
expect_ok kith --json contact list --tag no-such-tag
check_eq "[]" "$OUT" "--tag with no match gives []"

# ---- rm -----------------------------------------------------------------------------
expect_ok kith contact rm "$C_MAIL"
check_eq "" "$OUT" "contact rm prints nothing"
expect_ok kith --json contact list
check_eq "" "$(jqs ".[] | select(.id == \"$C_MAIL\") | .id" "$OUT")" "contact rm removes it from the list"
check_eq 7 "$(jqs length "$OUT")" "the others remain"
expect_exit 65 kith contact show "$C_MAIL"
expect_ok kith --json contact rm "$C_NOTE"
check_eq "$C_NOTE|true" "$(jqs '.id + "|" + (.deleted|tostring)' "$OUT")" "contact rm --json"
expect_ok kith --json note list
check_eq "[\"$N1\"]" "$(jqs '[.[].id]|tojson' "$OUT")" "contact rm deletes its notes too"
expect_ok kith --json contact list --search zoe
check_eq "Zoë Ortiz" "$(names_of)" "deleted contacts are not found by search"

# ---- --help everywhere --------------------------------------------------------------
NOSTORE="$T/no-store-here"
help_ok()
{
  run "$KITH_BIN" --home "$NOSTORE" "$@"
  if [ "$RC" = 0 ] && [ -s "$T/out" ] && [ ! -s "$T/err" ]; then
    pass "$* answers with help on stdout"
  else
    fail "$*: exit 0, help on stdout, nothing on stderr" "exit: $RC" \
      "stdout: $(show "$OUT")" "stderr: $(show "$ERR")"
  fi
}
help_ok --help
help_ok -h
help_ok help
for c in init whoami contact note import export; do help_ok "$c" --help; done
for s in add list show set rm; do help_ok contact "$s" --help; done
for s in add list edit rm; do help_ok note "$s" --help; done
help_ok contact add -h
help_ok note list -h
check "--help creates no store" test ! -e "$NOSTORE"
run "$KITH_BIN" --version
check_match '^kith [0-9]+\.[0-9]+' "$OUT" "--version"

# ---- the home folder ----------------------------------------------------------------
run env KITH_HOME="$KHOME" "$KITH_BIN" --json whoami
check_eq "0|$(jqs .device_id "$WHO")" "$RC|$(jqs .device_id "$OUT")" "KITH_HOME selects the home"
run env KITH_HOME="$KHOME" "$KITH_BIN" --json contact list
check_eq "0|6" "$RC|$(jqs length "$OUT")" "KITH_HOME: contact list (8 added, 2 removed)"
run env KITH_HOME="$T/elsewhere" "$KITH_BIN" --home "$KHOME" --json whoami
check_eq "0|$(jqs .device_id "$WHO")" "$RC|$(jqs .device_id "$OUT")" "--home wins over KITH_HOME"

# With neither, the home is $XDG_DATA_HOME/kith, else ~/.local/share/kith, even on a
# fresh account where those folders do not exist yet.
mkdir -p "$T/xdg"
run env XDG_DATA_HOME="$T/xdg" "$KITH_BIN" init --name X --device x
check_eq 0 "$RC" "init with XDG_DATA_HOME and no --home ($ERR)"
check "init uses \$XDG_DATA_HOME/kith" test -f "$T/xdg/kith/data.mdb"
mkdir -p "$T/fresh"
run env HOME="$T/fresh" "$KITH_BIN" init --name Y --device y
check_eq 0 "$RC" "init on a fresh account (no ~/.local/share yet) ($ERR)"
check "init uses ~/.local/share/kith" test -f "$T/fresh/.local/share/kith/data.mdb"

finish
