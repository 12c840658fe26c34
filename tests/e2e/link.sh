# Sync links over TCP on 127.0.0.1: kith serve accepts IK links from a partner and
# from one of my devices ('kith peer ping', 'kith device ping'), refuses a removed
# partner (77, untrusted) and a revoked device (77, revoked), shrugs off a stranger
# who sends garbage, and still takes pairings on the same port. A dialer with the
# wrong key for the address gets 69; nobody listening gets 69.
. "$(dirname "$0")/lib.sh"

A=$T/ana B=$T/bea C=$T/cy D=$T/phone

expect_ok kith_in "$A" init --name "Ana" --device laptop
expect_ok kith_in "$B" init --name "Bea" --device tablet
expect_ok kith_in "$C" init --name "Cy"

# wait_line FILE N: until FILE has at least N lines, within 10 s
wait_line()
{
  local i
  for ((i = 0; i < 100; i++)); do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# pair HOME [--device]: an invite from Ana (her own listener, or serve's if it
# runs), joined from HOME
pair()
{
  local home=$1; shift
  timeout 30 "$KITH_BIN" --home "$A" invite "$@" >"$T/inv.out" 2>"$T/inv.err" &
  local pid=$!
  wait_line "$T/inv.out" 1 || fail "invite printed no code" "stderr: $(cat "$T/inv.err")"
  expect_ok kith_in "$home" join "$(head -1 "$T/inv.out")"
  wait "$pid"
  check_eq 0 "$?" "the invite ends once used"
}

# stop_serve PID: SIGTERM to the kith serve that timeout(1) runs as PID, then its
# exit code. Not to timeout itself: it would forward the signal and then signal
# its whole process group too, and that second SIGTERM can land after serve has
# closed its handlers (exit 143 instead of a clean stop).
stop_serve()
{
  local child
  child=$(pgrep -P "$1")
  kill -TERM "${child:-$1}"
  wait "$1"
}

# Ana pairs with Bea and Cy; each pings before serve runs: nobody listens
pair "$B" --listen 127.0.0.1:0
pair "$C" --listen 127.0.0.1:0
expect_error 69 "cannot reach Ana" kith_in "$B" peer ping Ana --addr 127.0.0.1:1

timeout 120 "$KITH_BIN" --home "$A" --json serve --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
serve_pid=$!
wait_line "$T/serve.out" 1
check_eq listening "$(head -1 "$T/serve.out" | jq -r .event)" "serve says where it listens"
addr=$(head -1 "$T/serve.out" | jq -r .addr)
n=1 # events serve printed so far

# next_event: serve's next JSON line into $ev (waits for it)
next_event()
{
  n=$((n + 1))
  wait_line "$T/serve.out" "$n" || fail "serve printed no event $n" "$(cat "$T/serve.out")"
  ev=$(sed -n "${n}p" "$T/serve.out")
}

# ---- a partner gets in ------------------------------------------------------------
expect_ok kith_in "$B" peer ping Ana --addr "$addr"
check_eq "Ana is reachable and trusts this device" "$OUT" "ping says the partner trusts us"
next_event
check_eq link "$(jqs .event "$ev")" "serve reports the link"
check_eq Bea "$(jqs .peer "$ev")" "... from Bea"
check_eq true "$(jqs .trusted "$ev")" "... trusted"
check_eq partner "$(jqs .as "$ev")" "... as a partner"
bea_fp=$(kith_in "$B" --json whoami | jq -r .fingerprint)
check_eq "$bea_fp" "$(jqs .fingerprint "$ev")" "... with Bea's fingerprint"
expect_ok kith_in "$B" --json peer ping ana --addr "$addr"
check_eq true "$(jqs .trusted "$OUT")" "ping --json says trusted"
check_eq Ana "$(jqs .name "$OUT")" "... names the peer"
next_event

# ---- usage ----------------------------------------------------------------------------
expect_error 64 "needs --addr" kith_in "$B" peer ping Ana
expect_error 64 "bad address" kith_in "$B" peer ping Ana --addr nowhere:1
expect_error 65 "no peer" kith_in "$B" peer ping Zed --addr "$addr"

# ---- a stranger's garbage costs only its connection ----------------------------------
port=${addr##*:}
if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
  printf 'GET / HTTP/1.1\r\n\r\n' >&3
  exec 3>&-
  next_event
  check_eq conn_failed "$(jqs .event "$ev")" "garbage is reported and dropped"
else
  skip "bash has no /dev/tcp here"
fi
expect_ok kith_in "$B" peer ping Ana --addr "$addr"
next_event

# ---- the wrong device at an address: Bea's serve does not hold Ana's key ---------------
timeout 60 "$KITH_BIN" --home "$B" --json serve --listen 127.0.0.1:0 >"$T/serveb.out" 2>"$T/serveb.err" &
serveb_pid=$!
wait_line "$T/serveb.out" 1
addr_b=$(head -1 "$T/serveb.out" | jq -r .addr)
expect_error 69 "did not complete the handshake" kith_in "$C" peer ping Ana --addr "$addr_b"
wait_line "$T/serveb.out" 2
check_eq link_failed "$(sed -n 2p "$T/serveb.out" | jq -r .event)" "Bea's serve drops a link not meant for it"
stop_serve "$serveb_pid"

# ---- a removed partner is refused: untrusted ------------------------------------------
expect_ok kith_in "$A" peer rm Cy
expect_error 77 "refused the link: the peer does not trust this device" kith_in "$C" peer ping Ana --addr "$addr"
next_event
check_eq refused "$(jqs .event "$ev")" "serve reports the refusal"
check_eq 1 "$(jqs .code "$ev")" "... code 1"
check_match "not trust" "$(jqs .why "$ev")" "... untrusted"

# ---- my own device, then revoked -------------------------------------------------------
pair "$D" --device # serve runs: it takes the join on the same port
next_event
check_eq paired "$(jqs .event "$ev")" "serve still pairs on the port it links on"
expect_ok kith_in "$D" device ping laptop --addr "$addr"
check_eq "laptop is reachable and trusts this device" "$OUT" "my new device gets in"
next_event
check_eq device "$(jqs .as "$ev")" "serve reports a link from one of my devices"
phone_id=$(kith_in "$A" --json device list | jq -r '.[] | select(.this_device | not) | .id')
expect_ok kith_in "$A" device revoke "${phone_id:0:8}"
expect_error 77 "revoked" kith_in "$D" device ping laptop --addr "$addr"
next_event
check_eq 2 "$(jqs .code "$ev")" "serve refuses the revoked device: code 2"
expect_error 65 "revoked" kith_in "$A" device ping "${phone_id:0:8}" --addr "$addr"

stop_serve "$serve_pid"
check_eq 0 "$?" "serve stops cleanly on SIGTERM"
finish
