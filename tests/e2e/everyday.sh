#!/usr/bin/env bash
# everyday.sh — the everyday commands on the real binary: kith followup (absolute,
# relative, clear, bad input), kith tag cadence / tag list, kith due (human table
# and --json, exact), kith note add from an argument, '-', piped stdin, --edit
# and the editor on a terminal (script(1) gives it one), last_contacted moved by
# a note (and --date), contact list's LAST column, and colour: none in pipes or
# with NO_COLOR, some on a terminal.
. "$(dirname "$0")/lib.sh"

# "today" for every command here (the test hook: docs/DECISIONS.md)
export KITH_TODAY=2030-01-15
unset VISUAL EDITOR NO_COLOR
new_home "$KHOME"

id_of() { kith --json contact list | jq -r --arg n "$1" '.[] | select(.name == $n) | .id'; }
field() { kith --json contact show "$1" | jq -r ".$2"; }

kith contact add --name "Ada Lovelace" --tag climate >/dev/null
kith contact add --name "Bob Moses" --tag climate --tag Investors >/dev/null
kith contact add --name "Cy Twombly" >/dev/null
kith contact add --name "Dee Dee" >/dev/null
kith contact add --name "Eve Arden" --tag CLIMATE >/dev/null
ADA=$(id_of "Ada Lovelace") BOB=$(id_of "Bob Moses") CY=$(id_of "Cy Twombly")
DEE=$(id_of "Dee Dee") EVE=$(id_of "Eve Arden")
expect_ok kith contact set "$ADA" last_contacted=2029-12-01
expect_ok kith contact set "$BOB" last_contacted=2030-01-10

# ---- followup ----------------------------------------------------------------------
expect_ok kith followup "$CY" +3d
check_eq "Follow up with Cy Twombly on 2030-01-18 (in 3 days)." "$OUT" "followup +3d"
check_eq "2030-01-18" "$(field "$CY" follow_up)" "followup +3d is stored"
expect_ok kith followup "$DEE" +1m
check_eq "2030-02-15" "$(field "$DEE" follow_up)" "followup +1m: the same day next month"
expect_ok kith followup "$DEE" +2w
check_eq "2030-01-29" "$(field "$DEE" follow_up)" "followup +2w"
expect_ok kith followup "$DEE" +1y
check_eq "2031-01-15" "$(field "$DEE" follow_up)" "followup +1y"
expect_ok kith followup "$DEE" tomorrow
check_eq "2030-01-16" "$(field "$DEE" follow_up)" "followup tomorrow"
KITH_TODAY=2028-01-31 expect_ok kith followup "$DEE" +1m
check_eq "2028-02-29" "$(field "$DEE" follow_up)" "followup +1m from Jan 31: the month's last day"
expect_ok kith --json followup "$DEE" 2030-01-15
check_eq "$DEE|Dee Dee|2030-01-15" "$(jqs '[.id, .name, .follow_up] | join("|")' "$OUT")" \
  "followup --json: the contact, with its follow_up"
expect_ok kith followup "$EVE" today
expect_ok kith followup "$EVE" --clear
check_eq "No follow-up with Eve Arden." "$OUT" "followup --clear says so"
check_eq null "$(field "$EVE" follow_up)" "followup --clear removes it"
expect_ok kith followup "$EVE" 2030-03-01
expect_ok kith followup "$EVE" done
check_eq null "$(field "$EVE" follow_up)" "followup done removes it"
expect_error 64 "not a date" kith followup "$CY" 2030-02-30
expect_error 64 "not a date" kith followup "$CY" +3x
expect_error 64 "not a date" kith followup "$CY" +0d
expect_error 64 "not a date" kith followup "$CY" next-week
expect_error 64 "not a date" kith followup "$CY" +11y
expect_error 64 "missing the date" kith followup "$CY"
expect_error 64 "missing the contact" kith followup
expect_error 64 "not both" kith followup "$CY" 2030-02-01 --clear
expect_error 64 "unknown option" kith followup "$CY" --frob
expect_error 65 "no contact" kith followup 0000 +1d
check_eq "2030-01-18" "$(field "$CY" follow_up)" "a refused followup changes nothing"
expect_error 64 "KITH_TODAY" env KITH_TODAY=2030-13-01 "$KITH_BIN" --home "$KHOME" followup "$CY" +1d
expect_ok kith followup --help
check_contains "$OUT" "+2w" "followup --help has examples"

# ---- tag cadence / tag list -------------------------------------------------------------
expect_ok kith tag cadence climate 30d
check_eq "Contacts tagged climate want a touch every 30 days." "$OUT" "tag cadence 30d"
expect_ok kith tag cadence investors 2w
expect_ok kith tag cadence alumni 1m
check_eq "Contacts tagged alumni want a touch every 30 days." "$OUT" "a cadence month is 30 days"
expect_ok kith --json tag cadence Nobody 1y
check_eq '{"tag":"Nobody","cadence_days":365}' "$OUT" "tag cadence --json"
expect_ok kith tag cadence nobody off
check_eq "Tag nobody has no cadence." "$OUT" "tag cadence off"
expect_error 64 "not a span" kith tag cadence climate 30
expect_error 64 "not a span" kith tag cadence climate 0d
expect_error 64 "ten years" kith tag cadence climate 11y
expect_error 64 "missing the span" kith tag cadence climate
expect_error 64 "too many" kith tag cadence climate 1d 2d
expect_error 64 "unknown subcommand" kith tag frob
expect_ok kith --json tag list
check_eq '[{"tag":"alumni","contacts":0,"cadence_days":30},{"tag":"climate","contacts":3,"cadence_days":30},{"tag":"Investors","contacts":1,"cadence_days":14}]' \
  "$OUT" "tag list --json: tags (folded together) with counts and cadences, by tag"
expect_ok kith tag list
check_eq "TAG        CONTACTS  CADENCE
alumni            0  every 30d
climate           3  every 30d
Investors         1  every 14d" "$OUT" "tag list"
# cadences are no contacts, and are not exported
check_eq 5 "$(count_contacts)" "cadences are not contacts"
expect_ok kith export --format json
check_not_contains "$OUT" "cadence" "export has no cadence"

# ---- due ---------------------------------------------------------------------------
# Eve was never contacted: due 30 days after she was added (today, by the clock)
EVE_ADDED=$(field "$EVE" created | cut -c1-10)
EVE_DUE=$(date -u -d "$EVE_ADDED + 30 days" +%F)
EVE_AGO=$((($(date -u -d 2030-01-15 +%s) - $(date -u -d "$EVE_DUE" +%s)) / 86400))
expect_ok kith --json due
WANT=$(jq -cn --arg ada "$ADA" --arg dee "$DEE" --arg eve "$EVE" --arg ed "$EVE_DUE" \
  --argjson ago "$EVE_AGO" '[
  {id: $eve, name: "Eve Arden", due: $ed, reason: "cadence", days_overdue: $ago,
   tag: "CLIMATE", cadence_days: 30},
  {id: $ada, name: "Ada Lovelace", due: "2029-12-31", reason: "cadence", days_overdue: 15,
   tag: "climate", cadence_days: 30, last_contacted: "2029-12-01"},
  {id: $dee, name: "Dee Dee", due: "2030-01-15", reason: "follow_up", days_overdue: 0}]')
check_eq "$WANT" "$OUT" "due --json: overdue and today, soonest first"
expect_ok kith due
W=${#EVE_AGO}
W=$((W + 9)) # "N days ago" is the widest
check_eq "ID        NAME          $(printf '%-*s' $W DUE)  WHY
${EVE:0:8}  Eve Arden     $EVE_AGO days ago  every 30d (tag CLIMATE), never contacted
${ADA:0:8}  Ada Lovelace  $(printf '%-*s' $W "15 days ago")  every 30d (tag climate), last 45 days ago
${DEE:0:8}  Dee Dee       $(printf '%-*s' $W today)  follow-up" "$OUT" "due: the table"
check_not_contains "$OUT" $'\e' "due in a pipe: no escape codes"
# --within: Cy's follow-up in 3 days, Bob's 14-day cadence (the smaller) in 9
expect_ok kith --json due --within 2w --tag CLIMATE
check_eq "$EVE,$ADA,$BOB" "$(jqs 'map(.id) | join(",")' "$OUT")" "due --within --tag"
check_eq "2030-01-24|Investors|14|-9" \
  "$(jqs '.[2] | [.due, .tag, .cadence_days, .days_overdue] | join("|")' "$OUT")" \
  "due: the smallest cadence of a contact's tags counts"
expect_ok kith due --within 3d
check_contains "$OUT" "${CY:0:8}  Cy Twombly    $(printf '%-*s' $W "in 3 days")  follow-up" \
  "due --within 3d has Cy"
check_not_contains "$OUT" "Bob" "due --within 3d: Bob not yet"
expect_ok kith due --tag nobody-has-it
check_eq "Nothing due." "$OUT" "due with nothing due: says so, exit 0"
expect_ok kith --json due --tag nobody-has-it
check_eq "[]" "$OUT" "due --json with nothing due"
expect_error 64 "not a span" kith due --within 3x
expect_error 64 "unexpected argument" kith due soon

# ---- notes: argument, '-', piped stdin, --date -----------------------------------------
expect_ok kith note add "$ADA" "Coffee at the pier"
check_eq 2030-01-15 "$(field "$ADA" last_contacted)" "note add sets last_contacted to today"
expect_ok kith --json due --tag climate
check_not_contains "$OUT" "$ADA" "a note makes Ada no longer due"
expect_ok kith note add "$ADA" --date 2030-01-02 "An older call"
check_eq 2030-01-15 "$(field "$ADA" last_contacted)" "an older --date leaves a later last_contacted"
expect_ok kith note add "$BOB" --date 2030-01-12 "Met at the climate meetup"
check_eq 2030-01-12 "$(field "$BOB" last_contacted)" "note add --date moves last_contacted on"
expect_error 64 "future" kith note add "$BOB" --date 2030-01-16 "tomorrow's"
expect_error 64 "not a date" kith note add "$BOB" --date 2030-02-30 "x"
printf 'From a pipe\n\n' >"$T/in"
run_in "$T/in" kith note add "$CY"
check_eq 0 "$RC" "note add from piped stdin"
printf 'With a dash\n' >"$T/in"
run_in "$T/in" kith note add "$CY" -
check_eq 0 "$RC" "note add - reads stdin"
check_eq "From a pipe|With a dash" \
  "$(kith --json note list "$CY" | jq -r 'sort_by(.created) | map(.text) | join("|")')" \
  "both notes, trailing newlines dropped"
check_eq 2030-01-15 "$(field "$CY" last_contacted)" "a piped note sets last_contacted"
: >"$T/empty"
run_in "$T/empty" kith note add "$CY"
check_eq 65 "$RC" "an empty note from stdin is refused"

# ---- notes from the editor -------------------------------------------------------------------
cat >"$T/ed.sh" <<'EOF'
#!/bin/sh
# a scripted editor: keeps a copy of what it was given, then writes a note above it
[ "$1" = --flag ] && shift
cp "$1" "$ED_OUT/template"
stat -c %a "$1" >"$ED_OUT/mode"
printf '%s\n' "$1" >"$ED_OUT/path"
{ printf '\nLunch with Dee\n# a comment the user wrote\nShe moves to Lisbon in May\n\n'; cat "$1"; } >"$1.new"
mv "$1.new" "$1"
EOF
chmod +x "$T/ed.sh"
export ED_OUT="$T/ed"
mkdir -p "$ED_OUT" "$T/tmp"
N0=$(count_notes)
EDITOR="$T/ed.sh --flag" TMPDIR="$T/tmp" expect_ok kith note add "$DEE" --edit
check_eq "Lunch with Dee
She moves to Lisbon in May" "$(kith --json note list "$DEE" | jq -r '.[0].text')" \
  "note add --edit: the editor's text, comments and blank ends dropped"
check_eq 600 "$(cat "$ED_OUT/mode")" "the editor's file is 0600"
check_match "^$T/tmp/" "$(cat "$ED_OUT/path")" "the editor's file is in \$TMPDIR"
check "the editor's file is removed" test ! -e "$(cat "$ED_OUT/path")"
check_contains "$(cat "$ED_OUT/template")" "# A note about Dee Dee. Lines starting with # are ignored;" \
  "the template names the contact and says # lines are ignored"
check_eq 2030-01-15 "$(field "$DEE" last_contacted)" "a note from the editor sets last_contacted"
# $VISUAL comes first; an editor that leaves only the template aborts
VISUAL=true EDITOR="$T/ed.sh" expect_error 65 "aborted.*empty" kith note add "$DEE" --edit
EDITOR=false expect_error 65 "editor 'false' failed" kith note add "$DEE" --edit
check_eq $((N0 + 1)) "$(count_notes)" "an aborted note writes nothing"
expect_error 64 "not from '-'" kith note add "$DEE" --edit -
# on a terminal, no TEXT opens the editor (script(1) gives kith a terminal)
if command -v script >/dev/null; then
  EDITOR="$T/ed.sh" TMPDIR="$T/tmp" script -qec "$KITH_BIN --home $KHOME note add $EVE" /dev/null \
    </dev/null >"$T/tty.out" 2>&1
  check_eq "Lunch with Dee
She moves to Lisbon in May" "$(kith --json note list "$EVE" | jq -r '.[0].text')" \
    "note add on a terminal opens the editor"
else
  skip "no script(1): the terminal path of note add"
fi

# ---- contact list, colour ----------------------------------------------------------------
expect_ok kith contact list --tag climate
check_eq "ID        NAME          ORG  EMAIL  LAST        TAGS
${ADA:0:8}  Ada Lovelace              today       climate
${BOB:0:8}  Bob Moses                 3 days ago  climate, Investors
${EVE:0:8}  Eve Arden                 today       CLIMATE" "$OUT" "contact list: LAST, relative"
check_not_contains "$OUT" $'\e' "contact list in a pipe: no escape codes"
if command -v script >/dev/null; then
  TERM=xterm script -qec "$KITH_BIN --home $KHOME due --within 1y" /dev/null </dev/null >"$T/tty.out"
  check_contains "$(cat "$T/tty.out")" $'\e[1mID' "due on a terminal: bold header"
  check_contains "$(cat "$T/tty.out")" $'\e[33mtoday' "due on a terminal: today in yellow"
  TERM=xterm script -qec "$KITH_BIN --home $KHOME contact list" /dev/null </dev/null >"$T/tty.out"
  check_contains "$(cat "$T/tty.out")" $'\e[1m' "contact list on a terminal: bold header"
  NO_COLOR=1 TERM=xterm script -qec "$KITH_BIN --home $KHOME due --within 1y" /dev/null \
    </dev/null >"$T/tty.out"
  check_not_contains "$(cat "$T/tty.out")" $'\e' "NO_COLOR: no escape codes on a terminal"
  TERM=dumb script -qec "$KITH_BIN --home $KHOME contact list" /dev/null </dev/null >"$T/tty.out"
  check_not_contains "$(cat "$T/tty.out")" $'\e' "TERM=dumb: no escape codes"
  KITH_TODAY=2030-06-01 TERM=xterm script -qec "$KITH_BIN --home $KHOME due" /dev/null \
    </dev/null >"$T/tty.out"
  check_contains "$(cat "$T/tty.out")" $'\e[31m' "due on a terminal: overdue in red"
else
  skip "no script(1): colour on a terminal"
fi

finish
