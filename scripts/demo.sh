#!/usr/bin/env bash
# Installs what is missing, builds kith, and runs it on a real example: after a
# meetup, capture the people you met and what you talked about, then find them
# again. Uses a fresh store in a temporary folder (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

home=$(mktemp -d /tmp/kith-demo.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$home"' EXIT
export KITH_HOME=$home/laptop
kith() { build/release/kith "$@"; }
say() { printf '\n\033[1m$ kith %s\033[0m\n' "$*"; kith "$@"; }

say init --name "Ana Costa" --device laptop
echo; echo "# At a climate-tech meetup: three people, captured in seconds each"
zoe=$(kith contact add --name "Zoë Keller" --email work:zoe@keller.studio \
  --phone "cell:+44 20 7946 0018" --org "Keller Studio" --title "Design lead" \
  --tag climate --tag design --met-at "Climate Tech Meetup, Nov 2026" \
  --needs "a frontend contractor" --offers "intros to impact investors")
raj=$(kith contact add --name "Rajesh Iyer" --email raj@gridwise.io --org Gridwise \
  --title CTO --tag climate --tag hiring --met-at "Climate Tech Meetup, Nov 2026")
kith contact add --name "Mei Chen" --email mei.chen@example.org --org "Open Energy Fund" \
  --title Partner --tag investor --link https://linkedin.com/in/meichen-example >/dev/null
echo "added Zoë ($zoe), Rajesh ($raj) and Mei"
say note add "${zoe:0:6}" "Coffee next week; she can introduce me to two impact funds"
say note add "${raj:0:6}" "Hiring 2 backend engineers in Q1; send my portfolio"
say contact set "${raj:0:6}" follow_up=2026-12-01 x-github=rajiyer
say contact list
say contact list --tag climate
say contact list --search zoe
say contact list --search portfolio
say contact show "${zoe:0:6}"
say --json contact show "${raj:0:6}"
echo; echo "# A faithful copy: export, then import into another home (a new laptop)"
say export -o "$home/contacts.json"
KITH_HOME=$home/new-laptop say init --name "Ana Costa" --device new-laptop >/dev/null
KITH_HOME=$home/new-laptop say import "$home/contacts.json"
KITH_HOME=$home/new-laptop say contact list
echo; echo "# Pairing with an accountability partner, on this machine (127.0.0.1)"
KITH_HOME=$home/partner kith init --name "Bea Rossi" --device phone >/dev/null
kith invite --listen 127.0.0.1:0 >"$home/invite.out" 2>/dev/null &
for _ in $(seq 50); do [ -s "$home/invite.out" ] && break; sleep 0.1; done
code=$(head -1 "$home/invite.out")
printf '\n\033[1m$ kith invite --listen 127.0.0.1:0\033[0m\n%s\n' "$code"
KITH_HOME=$home/partner say join "$code"
wait
say peer list
say peer verify "Bea Rossi"
echo; echo "demo store: $home (set KEEP=1 to keep it)"
