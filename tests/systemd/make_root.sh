#!/bin/bash
# A Debian 12 root file system that boots with systemd-nspawn -b, made with
# mmdebstrap through this machine's own apt sources and cached outside the
# tree. Prints its path.
#   tests/systemd/make_root.sh [PACKAGE...]
# PACKAGEs are added to the base list (the test passes the .deb's Depends,
# so apt installs the .deb inside without a download). The cache is keyed
# by the package list, this script and the apt sources: a change rebuilds
# it, and the roots of other keys are removed. Needs root.
set -euo pipefail

cache=${HALFOPEN_NSPAWN_CACHE:-/var/cache/halfopen-exporter-tests/nspawn}
# systemd as PID 1 (systemd-sysv: /sbin/init), dbus as on any Debian server,
# apt to install the .deb with.
base=(systemd systemd-sysv dbus apt)
mapfile -t pkgs < <(printf '%s\n' "${base[@]}" "$@" | sort -u)

sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "make_root: no apt sources in /etc/apt" >&2; exit 1; }

key=$( { printf '%s\n' "${pkgs[@]}"; cat "$0" "${sources[@]}"; } | sha256sum | cut -c1-16)
root=$cache/$key/root
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -x "$root/sbin/init" ]; then
	rm -rf "$cache/$key.tmp"
	mkdir -p "$cache/$key.tmp"
	start=$(date +%s)
	# The hooks: no apt timers firing during a test, no getty on a console
	# nobody reads, a hostname. No package lists are kept: the .deb's
	# dependencies are installed already, and apt reads a local .deb
	# seconds faster without parsing the archive's lists.
	mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${pkgs[*]}")" \
		--customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer console-getty.service' \
		--customize-hook='echo halfopen-test >"$1/etc/hostname"' \
		bookworm "$cache/$key.tmp/root" "${sources[@]}" >&2
	mv "$cache/$key.tmp" "$cache/$key.new"
	rm -rf "${cache:?}/$key"
	mv "$cache/$key.new" "$cache/$key"
	echo "make_root: built $root in $(($(date +%s) - start)) s (${pkgs[*]})" >&2
fi
# Only the current key's root is kept.
for d in "$cache"/*/; do
	d=${d%/}
	[ "$d" = "$cache/$key" ] || rm -rf "$d"
done
echo "$root"
