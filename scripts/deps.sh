#!/usr/bin/env bash
# Installs the Debian packages kith needs to build, test and run, if any is missing.
# Debian 12 (bookworm); run as root (or with sudo available).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config          # the toolchain
  libsodium-dev libuv1-dev libmsgpack-dev liblmdb-dev   # kith's core libraries
  libutf8proc-dev libjansson-dev libcsv-dev # Unicode folding, JSON, CSV
  libqrencode-dev                           # invite codes as QR codes
  libcmocka-dev                             # unit tests
  clang libclang-rt-14-dev                  # fuzzing (libFuzzer) and sanitizers
  lmdb-utils                                # mdb_copy/mdb_dump: benchmarks, schema tests
  python3 jq                                # test and benchmark helpers
  groff-base                                # tests/e2e/install.sh renders the man page
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "kith: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "kith: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
