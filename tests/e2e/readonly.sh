# A store on read-only media (a backup on a locked USB stick) can be read; every
# write fails with one line and exit 74, and the data is untouched. Root ignores
# file permissions, so the test makes the media truly read-only: a read-only bind
# mount in a private mount namespace of its own (unshare -m). Where that is not
# allowed, as non-root it uses chmod instead.
. "$(dirname "$0")/lib.sh"

expect_ok kith init --name "Ana"
expect_ok kith contact add --name "Read Only" --email ro@example.org
id=$(cat "$T/out")
sum_before=$(sha256sum "$KHOME/data.mdb" | cut -d' ' -f1)

ro_run() { # runs kith on a read-only view of $KHOME; sets RC, OUT, ERR
  local args=""
  for a in "$@"; do args+=" $(printf '%q' "$a")"; done
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$T/ro"
    run unshare -m bash -c "mount --bind -o ro '$KHOME' '$T/ro' && \
      timeout 60 '$KITH_BIN' --home '$T/ro'$args"
  else
    chmod -R a-w "$KHOME"
    run timeout 60 "$KITH_BIN" --home "$KHOME" "$@"
    chmod -R u+w "$KHOME"
  fi
}

if [ "$(id -u)" = 0 ] && ! unshare -m true 2>/dev/null; then
  skip "unshare -m is not allowed here: no read-only mount to test with"
  finish
fi

ro_run contact list
check_eq 0 "$RC" "contact list on a read-only store exits 0"
check_contains "$OUT" "Read Only" "the contact is listed"

ro_run --json contact show "${id:0:8}"
check_eq 0 "$RC" "contact show on a read-only store exits 0"
check_contains "$OUT" "ro@example.org" "the contact is shown"

ro_run contact add --name "Nope"
check_eq 74 "$RC" "a write to a read-only store exits 74"
check_eq "" "$OUT" "nothing on stdout"
check_eq 1 "$(wc -l < "$T/err")" "one line on stderr"
check_contains "$ERR" "read-only" "the error says read-only"

ro_run note add "${id:0:8}" "nope"
check_eq 74 "$RC" "a note on a read-only store exits 74"

sum_after=$(sha256sum "$KHOME/data.mdb" | cut -d' ' -f1)
check_eq "$sum_before" "$sum_after" "data.mdb is untouched"
expect_ok kith contact list
check_contains "$OUT" "Read Only" "the store still reads normally"
finish
