#!/usr/bin/env bash
# relay_delta.sh KITH WORKDIR [N] [RUNS] — a 10-change delta through a relay, beside
# the same delta over a direct LAN connection, with the real binaries on loopback.
#
# A laptop and a phone (linked) with N contacts each (default 100,000, imported on
# the laptop, then synced once). Each run: 10 contacts changed on the laptop, then
#   relay: time from the start of the laptop's `kith sync --relay` to the end of
#          the phone's following `kith sync --relay` (the phone has committed);
#   LAN:   10 other changes, then the time of the laptop's `kith sync --addr` to the
#          phone's `kith serve` (it exits 0 once the phone committed).
# Prints each run and the medians. Each sync is a process start, a store open, a
# TCP connection and a Noise handshake: that is what a user waits for.
set -euo pipefail
k=$1 work=$2 n=${3:-100000} runs=${4:-7}
d=$(mktemp -d "$work/relay-delta.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
export KITH_DISC=off
L=$d/laptop P=$d/phone
ms() { date +%s%3N; }

"$k" --home "$L" init --name Ada --device laptop >/dev/null
"$k" --home "$L" invite --device --listen 127.0.0.1:0 >"$d/inv" 2>/dev/null &
for _ in $(seq 100); do [ -s "$d/inv" ] && break; sleep 0.1; done
"$k" --home "$P" join "$(head -1 "$d/inv")" >/dev/null
wait %1
python3 "$(dirname "$0")/gen.py" "$n" >"$d/c.json"
"$k" --home "$L" import "$d/c.json" >/dev/null

"$k" --home "$d/relayhome" relay run --listen 127.0.0.1:0 --data "$d/relay" >"$d/relay.out" &
for _ in $(seq 100); do grep -q listening "$d/relay.out" && break; sleep 0.1; done
R=$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' "$d/relay.out" | head -1)
"$k" --home "$P" serve --listen 127.0.0.1:0 >"$d/serve.out" 2>&1 &
for _ in $(seq 100); do grep -q listening "$d/serve.out" && break; sleep 0.1; done
A=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$d/serve.out")
"$k" --home "$L" sync --addr "$A" >/dev/null # the initial sync, over the LAN
"$k" --home "$L" sync --addr "$A" >/dev/null

ids=$("$k" --home "$L" --json contact list | python3 -c \
  'import json,sys; print(" ".join(c["id"][:12] for c in json.load(sys.stdin)[:40]))')
read -r -a id <<<"$ids"
# one relay round each way first, so both hold each other's acknowledgements
"$k" --home "$L" sync --relay "$R" >/dev/null
"$k" --home "$P" sync --relay "$R" >/dev/null
"$k" --home "$L" sync --relay "$R" >/dev/null

relay_t=() lan_t=()
for ((r = 0; r < runs; r++)); do
  for ((i = 0; i < 10; i++)); do
    "$k" --home "$L" contact set "${id[i]}" title="relay run $r" >/dev/null
  done
  t0=$(ms)
  "$k" --home "$L" sync --relay "$R" >/dev/null
  t1=$(ms)
  out=$("$k" --home "$P" --json sync --relay "$R")
  t2=$(ms)
  got=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fetched"]["records"])')
  [ "$got" = 10 ] || { echo "relay run $r: the phone got $got records, not 10" >&2; exit 1; }
  "$k" --home "$L" sync --relay "$R" >/dev/null # its acknowledgement
  relay_t+=($((t2 - t0)))
  for ((i = 20; i < 30; i++)); do
    "$k" --home "$L" contact set "${id[i]}" title="lan run $r" >/dev/null
  done
  t3=$(ms)
  "$k" --home "$L" sync --addr "$A" >/dev/null
  t4=$(ms)
  lan_t+=($((t4 - t3)))
  printf 'run %d: relay %d ms (deposit %d, fetch %d); LAN %d ms\n' "$r" \
    "$((t2 - t0))" "$((t1 - t0))" "$((t2 - t1))" "$((t4 - t3))"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "summary n=$n runs=$runs relay_delta_ms=$(median "${relay_t[@]}") lan_delta_ms=$(median "${lan_t[@]}")"
