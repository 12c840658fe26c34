#!/usr/bin/env bash
# kith's benchmarks: the figures named by the issues. Prints a summary at the end.
# usage: bench/run.sh [WORKDIR] [net|sync|relay]   (default /tmp/kith-bench;
# 1M-contact store ~1 GB). With "net", only the network figures (bench_net, a few
# seconds); with "sync", only the sync figures (bench_sync: 1k, 100k and 1M
# contacts, about 12 minutes, two 1M stores of ~1 GB each in WORKDIR while it
# runs); with "relay", only the relay figures (bench_relay, a few seconds).
# KITH_BUILD=DIR builds there instead of build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kith-bench}
mode=${2:-all}
build=${KITH_BUILD:-build/release}
mkdir -p "$work"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
k=$(cd "$build" && pwd)/kith

sync_figures() {
  echo "== sync over loopback: initial sync, then deltas of 10 changes each side"
  echo "   (acceptor in its own process: each side's RssAnon is its own)"
  for n in 1000 100000 1000000; do
    "$build/bench/bench_sync" --n $n --delta-runs 10 --fork --dir "$work" |
      tee "$work/sync-$n.txt"
  done
  echo "== the same 100,000 with both sides in one process (RssAnon of both together)"
  "$build/bench/bench_sync" --n 100000 --delta-runs 10 --dir "$work" | tee "$work/sync-one.txt"
  echo "== where the time goes (bench_sync_split: clocks around core/'s and LMDB's calls)"
  for n in 100000 1000000; do
    "$build/bench/bench_sync_split" --n $n --delta-runs 2 --fork --no-verify \
      --dir "$work" | tee "$work/sync-split-$n.txt"
  done
  grep -h '^summary' "$work"/sync-1*.txt "$work/sync-one.txt"
}

relay_figures() {
  echo "== relay on loopback: 100 clients deposit (acknowledged once durable), then"
  echo "   fetch and delete; the relay in its own process (its RSS is its own)"
  "$build/bench/bench_relay" --dir "$work" | tee "$work/relay.txt"
  echo "== a 10-change delta through a relay, beside the LAN (real binaries)"
  bench/relay_delta.sh "$k" "$work" 100000 7 | tee "$work/relay-delta.txt"
}

if [ "$mode" = sync ]; then
  sync_figures
  exit 0
fi
if [ "$mode" = relay ]; then
  relay_figures
  exit 0
fi
echo "== network on loopback: IK links per second; one connection, Noise vs plain"
"$build/bench/bench_net" --handshakes 500 --mib 256 --runs 5 | tee "$work/net.txt"
[ "$mode" = net ] && exit 0
relay_figures
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null

[ -f "$work/c100k.json" ] || python3 bench/gen.py 100000 > "$work/c100k.json"
[ -f "$work/c1m.json" ] || python3 bench/gen.py 1000000 > "$work/c1m.json"

echo "== import 100,000 contacts from JSON (fresh store each run)"
hyperfine -N --runs 5 --export-json "$work/import.json" \
  --prepare "bash -c 'rm -rf $work/h100k && $k --home $work/h100k init >/dev/null'" \
  "$k --home $work/h100k import $work/c100k.json"

echo "== export 100,000 contacts to JSON"
hyperfine -N --runs 5 --export-json "$work/export.json" \
  "$k --home $work/h100k export -o $work/e100k.json"

[ -f "$work/v100k.vcf" ] || python3 bench/gen.py 100000 --vcard > "$work/v100k.vcf"
[ -f "$work/v100k-rich.vcf" ] || python3 bench/gen.py 100000 --vcard --rich > "$work/v100k-rich.vcf"
echo "== import 100,000 vCards, then 100,000 with an address and a note each (fresh store each run)"
hyperfine -N --runs 5 --export-json "$work/import-vcard-rich.json" \
  --prepare "bash -c 'rm -rf $work/hv && $k --home $work/hv init >/dev/null'" \
  "$k --home $work/hv import $work/v100k-rich.vcf"
hyperfine -N --runs 5 --export-json "$work/import-vcard.json" \
  --prepare "bash -c 'rm -rf $work/hv && $k --home $work/hv init >/dev/null'" \
  "$k --home $work/hv import $work/v100k.vcf"

echo "== export 100,000 contacts as vCard"
hyperfine -N --runs 5 --export-json "$work/export-vcard.json" \
  "$k --home $work/hv export --format vcard -o $work/e100k.vcf"

echo "== on-disk size after a compacting copy vs the JSON export"
rm -f "$work/compact.mdb"
mdb_copy -c -n "$work/h100k/data.mdb" "$work/compact.mdb"
db=$(stat -c %s "$work/compact.mdb"); js=$(stat -c %s "$work/e100k.json")
echo "store $db bytes, export $js bytes, ratio $(python3 -c "print(round($db/$js, 2))")"

echo "== a store of 1,000,000 contacts (20 tagged 'needle')"
if [ ! -f "$work/h1m/data.mdb" ]; then
  $k --home "$work/h1m" init >/dev/null
  /usr/bin/time -f "import of 1M: %e s, %M KB max RSS" \
    $k --home "$work/h1m" import "$work/c1m.json"
fi
id=$($k --home "$work/h1m" --json contact list --tag needle | python3 -c \
  'import json,sys; print(json.load(sys.stdin)[7]["id"])')
echo "== contact show (1M store)"
hyperfine -N --warmup 3 --runs 50 --export-json "$work/show.json" \
  "$k --home $work/h1m contact show $id"
echo "== contact list --tag needle (1M store, 20 matches)"
hyperfine -N --warmup 3 --runs 50 --export-json "$work/tag.json" \
  "$k --home $work/h1m contact list --tag needle"

echo "== sync figures (bench_sync, about 12 minutes): $work/sync.txt"
sync_figures >"$work/sync.txt"
tail -1 "$work/net.txt"
tail -4 "$work/sync.txt"
python3 - "$work" <<'PY'
import json, sys, os
w = sys.argv[1]
def mean(f):
    r = json.load(open(os.path.join(w, f)))["results"][0]
    return r["mean"], r["stddev"]
for name, f, unit in [("import 100k JSON", "import.json", "s"), ("export 100k JSON", "export.json", "s"),
                      ("import 100k vCard", "import-vcard.json", "s"), ("export 100k vCard", "export-vcard.json", "s"),
                      ("import 100k rich vCard", "import-vcard-rich.json", "s"),
                      ("contact show, 1M store", "show.json", "ms"), ("list --tag (20 of 1M)", "tag.json", "ms")]:
    m, s = mean(f)
    k = 1000 if unit == "ms" else 1
    print(f"{name:28s} {m*k:8.3f} {unit} ± {s*k:.3f}")
PY
