#!/usr/bin/env bash
# errors.sh — every failure a user can cause: one line on stderr, nothing on
# stdout (with --json too), the documented exit code (cli/util.h), and nothing lost
# or half-written: bad input, unknown and ambiguous ids, no store, a store that
# exists, a read-only store, a full store, a file-size limit.
. "$(dirname "$0")/lib.sh"

# expect_error for both the human and the --json form of a kith command.
# both CODE PATTERN ARGS... (ARGS after the global options)
both()
{
  local code=$1 pattern=$2; shift 2
  expect_error "$code" "$pattern" kith "$@"
  expect_error "$code" "$pattern" kith --json "$@"
}

# A digest of everything a home holds, as the user sees it.
state() { { kith_in "${1:-$KHOME}" --json contact list; kith_in "${1:-$KHOME}" --json note list; } | sha256sum; }

# ---- no store: 66, and "kith init" in the message -----------------------------------
KHOME="$T/nothing-here"
both 66 "kith init" whoami
both 66 "kith init" contact list
both 66 "kith init" contact add --name "Nobody"
both 66 "kith init" contact show 0123
both 66 "kith init" contact set 0123 org=X
both 66 "kith init" contact rm 0123
both 66 "kith init" note list
both 66 "kith init" note add 0123 "text"
both 66 "kith init" note edit 0123 "text"
both 66 "kith init" note rm 0123
both 66 "kith init" export
echo '[{"name":"A"}]' >"$T/one.json"
both 66 "kith init" import "$T/one.json"
check "a command on a missing store creates nothing" test ! -e "$KHOME"

# ---- init twice: 73, the store untouched -------------------------------------------
KHOME="$T/home"
new_home "$KHOME" "Ann"
WHO=$(kith --json whoami)
both 73 "exists" init --name "Other"
check_eq "$WHO" "$(kith --json whoami)" "a second init changes nothing"

ALICE=$(kith contact add --name "Alice" --org "Acme" --email a@example.com) || fail "contact add"
kith note add "$ALICE" "first meeting" >/dev/null || fail "note add"
BEFORE=$(state)

# ---- unknown field: 65, and nothing of the command is applied ----------------------
both 65 "unknown field.*frobs" contact set "$ALICE" frobs=1
both 65 "unknown field" contact set "$ALICE" org=Changed frobs=1
both 65 "unknown field" contact add --name "Bob" frobs=1
check_eq "$BEFORE" "$(state)" "failed sets and adds change nothing (all of them or none)"
BEFORE=$(state)

# ---- invalid UTF-8: 65 ---------------------------------------------------------------
BAD=$(printf '\xff\xfe')
both 65 "utf-8" contact add --name "$BAD"
both 65 "utf-8" contact add --name "Bob" --org "$BAD"
both 65 "utf-8" contact add --name "Bob" --email "$BAD@example.com"
both 65 "utf-8" contact add --name "Bob" --tag "$BAD"
both 65 "utf-8" contact set "$ALICE" "name=$BAD"
both 65 "utf-8" contact set "$ALICE" "x-github=$BAD"
both 65 "utf-8" contact set "$ALICE" "emails=$BAD"
both 65 "utf-8" note add "$ALICE" "$BAD"
both 65 "utf-8" contact list --search "$BAD"
both 65 "utf-8" contact list --tag "$BAD"
printf 'half a char: \xc3\n' >"$T/badnote.txt"
run_in "$T/badnote.txt" kith note add "$ALICE"
check_eq "65|0|1" "$RC|$(wc -c <"$T/out" | tr -d ' ')|$(wc -l <"$T/err" | tr -d ' ')" \
  "note add with invalid UTF-8 on stdin: 65, one line"
expect_error 65 "utf-8" kith_in "$T/badinit" init --name "$BAD"
check "a refused init leaves no store" test ! -e "$T/badinit/data.mdb"
check_eq "$BEFORE" "$(state)" "invalid UTF-8 changes nothing"
BEFORE=$(state)

# ---- bad dates: 65 -------------------------------------------------------------------
both 65 "birthday" contact set "$ALICE" birthday=2021-02-30
both 65 "birthday" contact set "$ALICE" birthday=1990-13-01
both 65 "birthday" contact set "$ALICE" birthday=yesterday
both 65 "birthday" contact add --name "Bob" --birthday 13/01/1990
both 65 "follow" contact set "$ALICE" follow_up=soon
check_eq "$BEFORE" "$(state)" "bad dates change nothing"
BEFORE=$(state)

# ---- unknown and malformed ids: 65 ----------------------------------------------------
NOID=ffffffffffffffffffffffffffffffff
[ "${ALICE:0:4}" = ffff ] && NOID=00000000000000000000000000000000
both 65 "no contact" contact show "$NOID"
both 65 "no contact" contact set "$NOID" org=X
both 65 "no contact" contact rm "$NOID"
both 65 "no contact" note add "$NOID" "text"
both 65 "no contact" note list "$NOID"
both 65 "no note" note edit "$NOID" "text"
both 65 "no note" note rm "$NOID"
both 65 "hex" contact show "not-hex"
both 65 "" contact show "${ALICE}0"
# a note id is not a contact id, and the other way round
NOTE=$(kith --json note list | jq -r '.[0].id')
both 65 "no contact" contact show "$NOTE"
both 65 "no note" note rm "$ALICE"
check_eq "$BEFORE" "$(state)" "unknown ids change nothing"
BEFORE=$(state)

# ---- ambiguous prefix: 65 -------------------------------------------------------------
# Among 17 ids two share their first hex digit; stop as soon as two do.
AMB="$T/amb"
new_home "$AMB"
declare -A first_seen=()
DUP=""
for ((i = 0; i < 17; i++)); do
  id=$(kith_in "$AMB" contact add --name "Same $i") || { fail "contact add Same $i"; break; }
  d=${id:0:1}
  if [ -n "${first_seen[$d]:-}" ]; then DUP=$d; break; fi
  first_seen[$d]=$id
done
check_match '^[0-9a-f]$' "$DUP" "two of at most 17 ids share a first digit"
KHOME=$AMB both 65 "more than one" contact show "$DUP"
KHOME=$AMB both 65 "more than one" contact rm "$DUP"
KHOME=$AMB both 65 "more than one" note add "$DUP" "which one?"
check_eq "$((i + 1))" "$(count_contacts "$AMB")" "an ambiguous rm deletes nothing"
KHOME=$AMB expect_ok kith contact show "${first_seen[$DUP]}"

# ---- unknown commands and options: 64 -------------------------------------------------
both 64 "frobnicate" frobnicate
both 64 "unknown option" --frobnicate whoami
both 64 "" contact frob
both 64 "" note frob
both 64 "unknown option|frob" contact add --name "Bob" --frob
both 64 "unknown option|frob" contact list --frob
both 64 "unknown option|frob" note list --frob
both 64 "unknown option|frob" contact show --frob
both 64 "unknown option|frob" contact rm --frob
both 64 "unknown option|frob" contact set --frob org=X
both 64 "unknown option|frob" note add --frob "text"
both 64 "unknown option|frob" note edit --frob "text"
both 64 "unknown option|frob" note rm --frob
both 64 "unknown option|frob" import --frob "$T/one.json"
both 64 "unknown option|frob" export --frob
both 64 "unknown option|frob" init --frob
both 64 "" whoami extra
both 64 "name" contact add
both 64 "name" contact add --name ""
both 64 "" contact show
both 64 "" contact set "$ALICE"
both 64 "" contact set "$ALICE" no-equals-sign
both 64 "" contact set "$ALICE" =x
both 64 "" note add
both 64 "" import
both 64 "format|xml" export --format xml
both 64 "format|xml" import --format xml "$T/one.json"
check_eq "$BEFORE" "$(state)" "usage errors change nothing"
BEFORE=$(state)

# ---- malformed import files: 65, and nothing imported ----------------------------------
import_refused()
{
  local what=$1 file=$2
  both 65 "nothing imported" import "$file"
  check_eq "$BEFORE" "$(state)" "$what: nothing imported"
BEFORE=$(state)
}
printf '{"kith_export":1,"contacts":[{"name":"A"},' >"$T/truncated.json"
import_refused "truncated JSON" "$T/truncated.json"
printf 'name,email\nBob,b@example.com\n' >"$T/csv.json"
both 65 "nothing imported" import --format json "$T/csv.json"  # CSV, but told JSON
check_eq "$BEFORE" "$(state)" "not JSON: nothing imported"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n' >"$T/nameless.vcf"
import_refused "a vCard with nothing to name a contact by" "$T/nameless.vcf"
printf 'colour,size\nred,10\n' >"$T/odd.csv"
import_refused "a CSV whose header names no contact column" "$T/odd.csv"
: >"$T/empty.json"
import_refused "an empty file" "$T/empty.json"
echo '{"contacts": 5}' >"$T/shape.json"
import_refused "JSON of the wrong shape" "$T/shape.json"
jq -n '[{name: "Good One", emails: ["g1@example.com"]},
        {name: "Bad", emails: "not-an-array"},
        {name: "Good Two"}]' >"$T/middle.json"
import_refused "a bad record in the middle (emails not an array)" "$T/middle.json"
jq -n '[{name: "Good One"}, {name: 42}, {name: "Good Two"}]' >"$T/middle2.json"
import_refused "a bad record in the middle (name not a string)" "$T/middle2.json"
jq -n '[{name: "Good One"}, {name: "Bad", birthday: "someday"}, {name: "Good Two"}]' >"$T/middle3.json"
import_refused "a bad record in the middle (bad birthday)" "$T/middle3.json"
jq -n '[{name: "Good One"}, {name: "Bad", frobs: 1}, {name: "Good Two"}]' >"$T/middle4.json"
import_refused "a bad record in the middle (unknown field)" "$T/middle4.json"
printf '[{"name":"Good"},{"name":"Bad \xff"}]' >"$T/middle5.json"
import_refused "a bad record in the middle (invalid UTF-8)" "$T/middle5.json"
both 66 "nosuchfile" import "$T/nosuchfile.json"

# ---- a read-only store: 74 for writes, nothing lost ------------------------------------
RO="$T/ro"
new_home "$RO"
KEEP=$(kith_in "$RO" contact add --name "Keeper") || fail "contact add Keeper"
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  # root ignores permissions: run kith as nobody on a store nobody owns
  if command -v setpriv >/dev/null && chmod 755 "$T" && chown -R 65534:65534 "$RO" &&
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$KITH_BIN" -a -r "$RO/data.mdb"
  then
    RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  else
    RUNAS=(skip)
  fi
fi
if [ "${RUNAS[*]:-}" = skip ]; then
  skip "read-only store: running as root, and cannot run kith as nobody (setpriv) there"
else
  chmod -R a-w "$RO"
  RO_SUM=$(sha256sum <"$RO/data.mdb")
  ro() { "${RUNAS[@]}" timeout -k 5 "$KITH_TIMEOUT" "$KITH_BIN" --home "$RO" "$@"; }
  expect_error 74 "read-only" ro contact add --name "Nope"
  expect_error 74 "read-only" ro --json contact add --name "Nope"
  expect_error 74 "read-only" ro contact set "$KEEP" org=X
  expect_error 74 "read-only" ro contact rm "$KEEP"
  expect_error 74 "read-only" ro note add "$KEEP" "text"
  expect_error 74 "read-only" ro import "$T/one.json"
  # a read-only store is still read (a backup on read-only media, a locked-down folder)
  expect_ok ro --json contact list
  check_eq "Keeper" "$(jq -r '.[].name' "$T/out")" "a read-only store can be listed"
  expect_ok ro --json contact show "$KEEP"
  check_eq "Keeper" "$(jqs .name "$OUT")" "a read-only store can be shown"
  expect_ok ro --json whoami
  expect_ok ro export
  check_eq 1 "$(jqs '.contacts | length' "$OUT")" "a read-only store can be exported"
  check_eq "$RO_SUM" "$(sha256sum <"$RO/data.mdb")" "the read-only data.mdb is unchanged"
  chmod -R u+w "$RO"
  [ "$(id -u)" = 0 ] && chown -R 0:0 "$RO"
  expect_ok kith_in "$RO" --json contact list
  check_eq "Keeper" "$(jq -r '.[].name' "$T/out")" "after a read-only spell the store is intact"
  expect_ok kith_in "$RO" contact add --name "Writable again"
fi

# ---- a full store: 74 "full", and every acknowledged write kept ---------------------------
FULL="$T/full"
export KITH_MAP_SIZE=1048576 # a 1 MiB map
new_home "$FULL"
PAD=$(head -c 3000 /dev/zero | tr '\0' 'n')
: >"$T/acked"
code=0
for ((i = 0; i < 1000; i++)); do
  run kith_in "$FULL" contact add --name "Filler $i" --note "$PAD"
  if [ "$RC" != 0 ]; then code=$RC; break; fi
  echo "$OUT" >>"$T/acked"
done
ACKED=$(wc -l <"$T/acked" | tr -d ' ')
check_eq 74 "$code" "adding to a full 1 MiB store fails with 74 (after $ACKED adds)"
check_eq "0|1" "$(wc -c <"$T/out" | tr -d ' ')|$(wc -l <"$T/err" | tr -d ' ')" \
  "the full-store error is one line on stderr, nothing on stdout"
check_match "full" "$(cat "$T/err")" "the message says the store is full"
expect_ok kith_in "$FULL" --json contact list
jq -r '.[].id' "$T/out" | sort >"$T/listed"
check_eq "$(sort "$T/acked")" "$(cat "$T/listed")" \
  "every acknowledged contact is listed, and nothing else ($ACKED)"
check_eq "$ACKED" "$(count_notes "$FULL")" "every acknowledged note is kept"
expect_ok kith_in "$FULL" --json whoami
expect_ok kith_in "$FULL" export -o "$T/full-export.json"
check_eq "$ACKED" "$(jq '.contacts | length' "$T/full-export.json")" "a full store still exports"
jq -n '[range(0; 300) | {name: "Import \(.)", emails: ["i\(.)@example.com"], org: "Org \(.)"}]' \
  >"$T/some.json"
expect_error 74 "full" kith_in "$FULL" import "$T/some.json"
check_eq "$ACKED" "$(count_contacts "$FULL")" "an import into a full store imports nothing"
# the store keeps working: a small write fits or fails cleanly, and reads go on
run kith_in "$FULL" contact add --name "Small"
if [ "$RC" = 0 ]; then pass "a small contact still fits"; else
  expect_error 74 "full" kith_in "$FULL" contact add --name "Small"; fi
unset KITH_MAP_SIZE
expect_ok kith_in "$FULL" --json contact list
check_eq "$((ACKED + (RC == 0 ? 1 : 0)))" "$(jq length "$T/out")" \
  "with the default map size the store opens with everything in it"

# ---- a file-size limit (RLIMIT_FSIZE): a clean failure, the store intact -----------------
LIM="$T/lim"
new_home "$LIM"
kith_in "$LIM" contact add --name "Before the limit" >/dev/null || fail "contact add"
LIM_BEFORE=$(state "$LIM")
jq -n '[range(0; 3000) | {name: "Big \(.)", emails: ["b\(.)@example.com"], org: "Org \(.)",
        tags: ["bulk"], needs: "a job in \(.)"}]' >"$T/big.json"
check "data.mdb starts below the limit" test "$(stat -c %s "$LIM/data.mdb")" -lt 204800
run bash -c 'ulimit -f 200 && exec "$@"' limit "$KITH_BIN" --home "$LIM" import "$T/big.json"
check_eq "74|0|1" "$RC|$(wc -c <"$T/out" | tr -d ' ')|$(wc -l <"$T/err" | tr -d ' ')" \
  "import over a 200 KiB file-size limit: 74, one line ($ERR)"
run bash -c 'ulimit -f 200 && exec "$@"' limit "$KITH_BIN" --home "$LIM" --json import "$T/big.json"
check_eq "74|0|1" "$RC|$(wc -c <"$T/out" | tr -d ' ')|$(wc -l <"$T/err" | tr -d ' ')" \
  "import --json over the limit: 74, one line, nothing on stdout"
check_eq "$LIM_BEFORE" "$(state "$LIM")" "after the failed import the store is as before"
expect_ok kith_in "$LIM" --json whoami
expect_ok kith_in "$LIM" import "$T/big.json"
check_eq 3001 "$(count_contacts "$LIM")" "without the limit the same import works"

finish
