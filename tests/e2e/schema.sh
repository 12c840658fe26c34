#!/usr/bin/env bash
# schema.sh — the schema version in the store's "meta" database: a store written by a
# newer kith is refused and left byte-identical; an older one is migrated on open.
# The version is edited with mdb_dump/mdb_load (Debian: lmdb-utils).
. "$(dirname "$0")/lib.sh"

for tool in mdb_dump mdb_load; do
  if ! command -v "$tool" >/dev/null; then
    skip "schema: $tool (lmdb-utils) is not installed"
    finish
  fi
done

SCHEMA_KEY=736368656d61 # "schema"

# meta_value HOME KEYHEX: the value under a key of "meta", in hex
meta_value()
{
  mdb_dump -s meta "$1" | awk -v k=" $2" '
    /^HEADER=END/ { body = 1; next }
    /^DATA=END/ { body = 0 }
    body { n++; if (n % 2 == 1) key = $0; else if (key == k) print substr($0, 2) }'
}

# set_schema HOME VERSION: rewrites "schema" (a big-endian u32) in place. (mdb_load
# does not know the db_pagesize line that mdb_dump writes; it is dropped.)
set_schema()
{
  local hex
  hex=$(printf '%08x' "$2")
  mdb_dump -s meta "$1" >"$T/meta.dump" || return 1
  awk -v k=" $SCHEMA_KEY" -v v=" $hex" '
    /^HEADER=END/ { body = 1; print; next }
    /^DATA=END/ { body = 0 }
    body { n++; if (n % 2 == 1) key = $0; else if (key == k) { $0 = v; done = 1 } }
    { print }
    END { exit !done }' "$T/meta.dump" >"$T/meta.new" || return 1
  grep -v '^db_pagesize=' "$T/meta.new" | mdb_load -s meta "$1" || return 1
  [ "$(meta_value "$1" "$SCHEMA_KEY")" = "$hex" ]
}

KHOME="$T/home"
new_home "$KHOME"
CUR=$(kith --json whoami | jq -r .schema)
check_match '^[0-9]+$' "$CUR" "whoami --json shows the schema version ($CUR)"
check_eq "$(printf '%08x' "$CUR")" "$(meta_value "$KHOME" "$SCHEMA_KEY")" \
  "meta \"schema\" holds the version as a big-endian u32"

ZOE=$(kith contact add --name "Zoë Ortiz" --email zoe@example.com --tag VIP --tag Climbing) ||
  fail "contact add"
kith note add "$ZOE" "Coffee in Zürich" >/dev/null || fail "note add"
AL=$(kith contact add --name "Al Bright" --tag vip --org Acme) || fail "contact add"
kith note add "$AL" "Call about the Acme job" >/dev/null || fail "note add"
kith contact add --name "Cy Nobody" >/dev/null || fail "contact add"

# What the user sees, to compare after each change of version.
view()
{
  local h=${1:-$KHOME}
  kith_in "$h" --json contact list &&
    kith_in "$h" --json contact list --tag vip &&
    kith_in "$h" --json contact list --tag CLIMBING &&
    kith_in "$h" --json contact list --search zurich &&
    kith_in "$h" --json note list &&
    kith_in "$h" --json note list "$ZOE" &&
    kith_in "$h" --json contact show "$ZOE"
}
VIEW=$(view) || fail "the views of a fresh store"
check_eq 2 "$(kith --json contact list --tag vip | jq length)" "--tag vip finds two"

# ---- a store from a newer kith: refused, untouched ---------------------------------------
NEWER=$((CUR + 1))
check "the schema can be set to $NEWER with mdb_load" set_schema "$KHOME" "$NEWER"
SUM=$(sha256sum <"$KHOME/data.mdb")
newer_refused()
{
  expect_error 65 "newer kith" kith "$@"
  expect_error 65 "newer kith" kith --json "$@"
}
newer_refused contact list
newer_refused contact list --tag vip
newer_refused whoami
newer_refused contact show "$ZOE"
newer_refused contact add --name "Written anyway?"
newer_refused contact set "$ZOE" org=Changed
newer_refused contact rm "$AL"
newer_refused note add "$ZOE" "a note"
newer_refused note list
newer_refused export
echo '[{"name": "Imported anyway?"}]' >"$T/one.json"
newer_refused import "$T/one.json"
check_eq "$SUM" "$(sha256sum <"$KHOME/data.mdb")" "data.mdb is byte-identical after every refusal"
check_eq "$(printf '%08x' "$NEWER")" "$(meta_value "$KHOME" "$SCHEMA_KEY")" "the version is left as found"
expect_error 73 "exists" kith init --name "Over it?"
check_eq "$SUM" "$(sha256sum <"$KHOME/data.mdb")" "init over a newer store changes nothing"

check "the schema can be set to 4294967295" set_schema "$KHOME" 4294967295
SUM=$(sha256sum <"$KHOME/data.mdb")
newer_refused contact list
check_eq "$SUM" "$(sha256sum <"$KHOME/data.mdb")" "the largest version is refused untouched too"

check "the schema can be set back to $CUR" set_schema "$KHOME" "$CUR"
check_eq "$VIEW" "$(view)" "back at the current version, everything is as it was"

# ---- an older store (schema 1, in place): migrated on open -------------------------------
check "the schema can be set to 1" set_schema "$KHOME" 1
expect_ok kith --json contact list --tag vip
check_eq 2 "$(jqs length "$OUT")" "list --tag works on a store opened at schema 1"
check_eq "$(printf '%08x' "$CUR")" "$(meta_value "$KHOME" "$SCHEMA_KEY")" \
  "opening migrated the store to schema $CUR"
check_eq "$CUR" "$(kith --json whoami | jq -r .schema)" "whoami --json shows schema $CUR"
check_eq "$VIEW" "$(view)" "after the migration, everything is as it was (no duplicates)"

# ---- a real schema 1 store: records, log and meta only, no derived indexes --------------
# (schema 1 had no "kinds", "tags" and "notes" databases)
OLD="$T/old"
mkdir -p "$OLD"
DBS=$(mdb_dump -l "$KHOME")
for db in $DBS; do
  case $db in kinds | tags | notes) continue ;; esac
  mdb_dump -s "$db" "$KHOME" >"$T/$db.dump" || fail "mdb_dump -s $db"
  grep -v '^db_pagesize=' "$T/$db.dump" | mdb_load -s "$db" "$OLD" || fail "mdb_load -s $db"
done
check "the old store has no index databases" test -z "$(mdb_dump -l "$OLD" | grep -Ex 'kinds|tags|notes')"
check "the old store is at schema 1" set_schema "$OLD" 1
expect_ok kith_in "$OLD" --json contact list --tag vip
check_eq "$(kith --json contact list --tag vip)" "$OUT" "list --tag on a migrated schema 1 store"
expect_ok kith_in "$OLD" --json whoami
check_eq "$CUR" "$(jqs .schema "$OUT")" "whoami --json shows schema $CUR after the migration"
check_eq "$(kith --json whoami | jq -r .device_id)" "$(jqs .device_id "$OUT")" \
  "the migrated store keeps its device identity"
check_eq "$VIEW" "$(view "$OLD")" "the migrated store shows the same contacts, tags, notes, search"
check_eq "kinds notes tags" "$(mdb_dump -l "$OLD" | grep -Ex 'kinds|tags|notes' | sort | tr '\n' ' ' | sed 's/ $//')" \
  "the migration built the index databases"
expect_ok kith_in "$OLD" contact add --name "New after migration" --tag VIP
check_eq 3 "$(kith_in "$OLD" --json contact list --tag vip | jq length)" "the migrated store takes writes"

finish
