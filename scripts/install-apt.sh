#!/usr/bin/env bash
# Install the Debian packages listed in the given files (default: scripts/apt-packages.txt) that
# are missing. Idempotent: does nothing (and needs no network) when all are installed. Fails
# (non-zero, saying what is missing) when it cannot install them: no test may skip quietly later.
set -euo pipefail
fail() {
  echo "coursebot: cannot install the system packages: ${missing[*]}" >&2
  echo "coursebot: $1" >&2
  exit 1
}
here="$(cd "$(dirname "$0")" && pwd)"
lists=("$@")
[ ${#lists[@]} -eq 0 ] && lists=("$here/apt-packages.txt")
mapfile -t wanted < <(cat "${lists[@]}" | grep -vE '^\s*(#|$)' | awk '{print $1}')
[ ${#wanted[@]} -eq 0 ] && exit 0
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || fail "there is no apt-get here; install them yourself, then run make again."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    fail "not root and no sudo; install them as root, then run make again."; fi
fi
echo "coursebot: installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || fail "apt-get update failed (no network or no package lists?)."
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || fail "apt-get install failed (see above)."
still=()
for pkg in "${missing[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || still+=("$pkg")
done
[ ${#still[@]} -eq 0 ] || { missing=("${still[@]}"); fail "apt-get finished but these are still not installed."; }
