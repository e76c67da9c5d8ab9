#!/bin/bash
# Install what is missing to build, run and test halfopen_exporter on
# Debian 12. Idempotent and quiet when everything is there already.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh test     + everything the test suite uses
set -euo pipefail

pkgs=(gcc meson ninja-build pkg-config libmicrohttpd-dev libnl-3-dev libyaml-dev zlib1g-dev
      libcap-dev libcrypt-dev libgnutls28-dev iproute2)
if [ "${1:-}" = test ]; then
	pkgs+=(iptables python3 prometheus curl valgrind clang libclang-rt-14-dev procps psmisc
	       strace openssl
	       kubernetes-client buildah nodejs chromium
	       redis-server python3-redis postgresql python3-psycopg2 pgbouncer nginx conntrack)
fi

missing=()
for p in "${pkgs[@]}"; do
	# kubectl may come from elsewhere; Debian's kubernetes-client conflicts with it.
	if [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null; then continue; fi
	# The machine's Node.js (with its own npm) may not be Debian's.
	if [ "$p" = nodejs ] && command -v node >/dev/null && command -v npm >/dev/null; then continue; fi
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
