#!/bin/bash
# Install what is missing to build, run and test halfopen_exporter on
# Debian 12. Idempotent and quiet when everything is there already.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh test     + everything the test suite uses
#   scripts/deps.sh demo     + what scripts/dev demo plays the reproduction with
#   scripts/deps.sh deb      + what scripts/dev deb builds and checks the package with
#   scripts/deps.sh bench    + what tests/bench/run.sh measures and plots with
set -euo pipefail

pkgs=(gcc meson ninja-build pkg-config libmicrohttpd-dev libnl-3-dev libyaml-dev zlib1g-dev
      libcap-dev libcrypt-dev libgnutls28-dev iproute2
      clang llvm libbpf-dev bpftool libelf-dev)  # the bpf feature: services[].enforce
demo=(iptables netcat-openbsd curl)
deb=(debhelper dpkg-dev lintian)
# wrk: /metrics under load; node_exporter's tcpstat collector: the comparison
# row and curl its scrape; matplotlib (Debian's python3): the plot. iproute2's ss is in pkgs.
bench=(wrk prometheus-node-exporter python3 python3-matplotlib curl)
case "${1:-}" in
demo) pkgs+=("${demo[@]}");;
deb) pkgs+=("${deb[@]}");;
bench) pkgs+=("${bench[@]}");;
test) pkgs+=("${demo[@]}" "${deb[@]}" adduser systemd);;
esac
if [ "${1:-}" = test ]; then
	pkgs+=(iptables python3 python3-yaml prometheus prometheus-alertmanager curl valgrind clang libclang-rt-14-dev procps psmisc
	       strace openssl redis-server python3-redis
	       kubernetes-client buildah podman runc catatonit busybox-static nodejs npm chromium
	       postgresql python3-psycopg2 pgbouncer nginx conntrack
	       mmdebstrap systemd-container  # tests/systemd: the package under systemd as PID 1
	       qemu-system-x86 cpio kmod xz-utils zstd)  # tests/kernels: Debian's kernels under TCG (+ busybox-static)
fi

missing=()
for p in "${pkgs[@]}"; do
	# kubectl may come from elsewhere; Debian's kubernetes-client conflicts with it.
	if [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null; then continue; fi
	# The machine's Node.js (with its own npm) may not be Debian's.
	if [ "$p" = nodejs ] && command -v node >/dev/null && command -v npm >/dev/null; then continue; fi
	if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
