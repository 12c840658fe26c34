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
echo; echo "# The address book you already have: an old phone's vCard export (2.1, quoted-"
echo "# printable, Windows-1252) and LinkedIn's Connections.csv; Mei is in both and in"
echo "# kith already, so she is merged, not duplicated"
printf 'BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=windows-1252:M\xfcller;J\xfcrgen\r\nTEL;CELL:+49 30 901820\r\nEMAIL;INTERNET:juergen@mueller.example\r\nNOTE;ENCODING=QUOTED-PRINTABLE:Met at Berlin Energy Week=0D=0A=\r\nwants a co-founder\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mei Chen\r\nEMAIL;TYPE=WORK:MEI.CHEN@example.org\r\nTEL;TYPE=CELL:+1 415 555 0142\r\nEND:VCARD\r\n' >"$home/phone-export.vcf"
cat >"$home/Connections.csv" <<'EOF'
Notes:
"When exporting your connection data, you may notice that some of the email addresses are missing."

First Name,Last Name,URL,Email Address,Company,Position,Connected On
Mei,Chen,https://www.linkedin.com/in/meichen-example/,,Open Energy Fund,Managing Partner,12 Mar 2024
Tomás,García,https://www.linkedin.com/in/tomas-garcia-example,,Heliox,Founder,24 Aug 2023
EOF
say import "$home/phone-export.vcf"
say import "$home/Connections.csv" --dry-run
say import "$home/Connections.csv"
say import "$home/Connections.csv" # again: nothing changes
echo; echo "# Follow-ups: the habit networking rests on"
say followup "${zoe:0:6}" +1w
say tag cadence investor 30d # see investors at least monthly
KITH_TODAY=$(date -d '+40 days' +%F) say due # 40 days on, without a word to Mei
say export --format vcard -o "$home/contacts.vcf" # for any other address book
head -12 "$home/contacts.vcf"
echo; echo "# A faithful copy: export, then import into another home (a new laptop)"
say export -o "$home/contacts.json"
KITH_HOME=$home/new-laptop say init --name "Ana Costa" --device new-laptop >/dev/null
KITH_HOME=$home/new-laptop say import "$home/contacts.json"
KITH_HOME=$home/new-laptop say contact list
echo; echo "# Linking a phone on the LAN, and pairing with an accountability partner in"
echo "# another city through a relay: all on this machine (127.0.0.1), four homes"
echo "# as four devices would be, and a relay: a mailbox that holds sealed envelopes"
echo "# and cannot read them"
build/release/kith relay run --listen 127.0.0.1:0 --data "$home/relay" >"$home/relay.out" 2>&1 &
for _ in $(seq 50); do grep -q listening "$home/relay.out" 2>/dev/null && break; sleep 0.1; done
relay=$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' "$home/relay.out" | head -1)
say relay add "$relay" # where my devices fetch their mail
pair() { # pair HOME ARGS...: an invite on the laptop, joined from HOME
  local who=$1; shift
  kith invite "$@" >"$home/invite.out" 2>/dev/null &
  local pid=$!
  for _ in $(seq 50); do [ -s "$home/invite.out" ] && break; sleep 0.1; done
  local code; code=$(head -1 "$home/invite.out")
  printf '\n\033[1m$ kith invite %s\033[0m\n%s\n' "$*" "$code"
  KITH_HOME=$home/$who say join "$code"
  wait "$pid"
}
pair phone --device --listen 127.0.0.1:0
KITH_HOME=$home/partner kith init --name "Bea Rossi" --device laptop >/dev/null
KITH_HOME=$home/partner say relay add "$relay"
pair partner --relay "$relay" # the code carries the relay; they meet there
say peer verify "Bea Rossi"
say relay list

echo; echo "# The laptop serves (LAN syncs, and relay rounds every second here);"
echo "# everyone else is offline, editing"
export KITH_DISC=off # this demo dials 127.0.0.1; on a LAN, serve finds devices itself
KITH_RELAY_POLL_MS=1000 kith serve --listen 127.0.0.1:0 >"$home/serve.out" 2>&1 &
for _ in $(seq 50); do grep -q listening "$home/serve.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$home/serve.out")
posted=$(grep -c "for Bea Rossi" "$home/serve.out" || true)
say share "${zoe:0:6}" --with Bea # Zoë's card (not my tags, not my notes) goes to Bea
say contact set "${zoe:0:6}" title="Head of Design"
KITH_HOME=$home/phone say contact add --name "Lena Park" --org "Sunrise Labs" --tag climate
KITH_HOME=$home/phone say contact set "${zoe:0:6}" org="Keller Studio Ltd"
echo; echo "# The phone syncs with the laptop on the LAN"
KITH_HOME=$home/phone say sync --addr "$addr"
# serve posts for Bea at her relay about a second after a change
for _ in $(seq 100); do
  [ "$(grep -c "for Bea Rossi" "$home/serve.out")" -gt "$posted" ] && break; sleep 0.1
done
echo; echo "# Bea, far away, syncs through the relay"
KITH_HOME=$home/partner say sync --relay "$relay"
KITH_HOME=$home/partner say contact show "${zoe:0:6}"
KITH_HOME=$home/partner say contact list   # only what Ana shared: no tags of hers
KITH_HOME=$home/partner say contact set "${zoe:0:6}" met_at="Also met at the Berlin summit"
fetched=$(grep -c "from relay" "$home/serve.out" || true)
KITH_HOME=$home/partner say --json sync --relay "$relay"
for _ in $(seq 100); do
  [ "$(grep -c "from relay" "$home/serve.out")" -gt "$fetched" ] && break; sleep 0.1
done
echo; echo "# The laptop's serve fetched Bea's edit; the phone gets it on the LAN"
KITH_HOME=$home/phone say sync --addr "$addr"
KITH_HOME=$home/phone say contact show "${zoe:0:6}"  # both devices' edits and Bea's
say contact list
say peer list
echo; echo "# What the relay holds: sealed envelopes, not one name"
# (whole names: a two-letter string turns up in any few megabytes of ciphertext)
if grep -r -a -q -E "Zoë Keller|Keller Studio|keller\.studio|Bea Rossi|Ana Costa" "$home/relay"; then
  echo "the relay's folder holds plaintext: this is a bug"; exit 1
else
  echo "grep for Zoë Keller, Keller Studio, keller.studio, Bea Rossi, Ana Costa in the"
  echo "relay's folder: no match"
fi

echo; echo "# An introduction: Ana knows Bea (a designer) and Kofi (who needs one);"
echo "# neither learns anything of the other before both say yes"
KITH_HOME=$home/kofi kith init --name "Kofi Mensah" --device laptop >/dev/null
KITH_HOME=$home/kofi say card set email=work:kofi@solarkit.example "phone=cell:+233 20 000 0042" \
  org=SolarKit title=Founder
KITH_HOME=$home/partner say card set email=work:bea@rossi.design org="Rossi Design"
pair kofi --listen 127.0.0.1:0
say intro propose Bea Kofi --message "Kofi is hiring a product designer for SolarKit" \
  --message "Bea designs energy apps; she could help SolarKit"
intro_id() { # the proposal a party holds: intro_id HOME
  KITH_HOME=$home/$1 kith --json intro list | jq -r '.[0].id'
}
intro_status() { KITH_HOME=$home/$1 kith --json intro list | jq -r '.[0].status'; }
round() { # the laptop's serve posts at the relay within a second of a change; then
  # one sync for each party: Bea through the relay, Kofi on the LAN
  sleep 1.5
  KITH_HOME=$home/partner kith sync --relay "$relay" >/dev/null 2>&1 || true
  KITH_HOME=$home/kofi kith sync --addr "$addr" >/dev/null 2>&1 || true
}
round
KITH_HOME=$home/partner say intro list # Bea sees Kofi's name and Ana's message, nothing else
KITH_HOME=$home/partner say intro accept "$(intro_id partner)" --share emails,org
KITH_HOME=$home/kofi say intro accept "$(intro_id kofi)" --share emails,phones,org,title
for _ in $(seq 10); do # vouch, seal, forward, open: a few rounds
  round
  [ "$(intro_status partner)" = completed ] && [ "$(intro_status kofi)" = completed ] && break
done
say intro list
KITH_HOME=$home/partner say contact list --search kofi
KITH_HOME=$home/partner say peer list # Kofi, pending: confirm to sync directly
KITH_HOME=$home/partner say peer confirm Kofi
KITH_HOME=$home/kofi say peer confirm Bea

echo; echo "# A referral: Ana passes Bea a lead, and hears how it went"
say referral add --contact "${raj:0:6}" --to Bea --reason "Gridwise needs a design system" \
  --value "4000 EUR"
round
ref=$(KITH_HOME=$home/partner kith --json referral list --received | jq -r '.[0].id')
KITH_HOME=$home/partner say referral status "${ref:0:8}" contacted --note "call on Monday"
KITH_HOME=$home/partner say referral status "${ref:0:8}" won --note "signed: 3 months"
KITH_HOME=$home/partner say referral thank "${ref:0:8}" --value "4000 EUR"
round
for _ in $(seq 50); do # the laptop's serve fetches Bea's updates from the relay
  [ "$(kith --json referral list | jq -r '.[0].thanked != null')" = true ] && break
  sleep 0.2
done
say referral list
say referral stats

kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true
echo; echo "demo store: $home (set KEEP=1 to keep it)"
