#!/bin/sh
# The enforce program builds without the build machine's kernel BTF, and
# builds the same: compile it again, and its skeleton, in a mount
# namespace where /sys/kernel/btf is an empty tmpfs (as in a container or
# sbuild), with the very commands ninja used, and compare the bytes with
# what the build made (which the enforce scenarios load and run).
#   build_no_btf.sh BUILD_DIR       (root: unshare -m)
set -eu
build=$1
tmp=$(mktemp -d /tmp/ho-nobtf-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
obj=collectors/bpf/enforce.bpf.o
compile=$(ninja -C "$build" -t commands "$obj" | tail -1)
if grep -n /sys/kernel/btf "$build/build.ninja"; then
	echo "FAIL: a build step reads the build machine's kernel BTF"
	exit 1
fi
case $compile in
*vmlinux*) echo "FAIL: the compile command names vmlinux: $compile"; exit 1 ;;
esac
skel=$(ninja -C "$build" -t commands collectors/bpf/enforce.skel.h | tail -1)
cd "$build"
unshare -m sh -eu -c '
	mount -t tmpfs none /sys/kernel/btf
	if [ -e /sys/kernel/btf/vmlinux ]; then echo "FAIL: BTF still visible"; exit 1; fi
	'"${compile% -o *}"' -o "$1/enforce.bpf.o"
	bpftool gen skeleton "$1/enforce.bpf.o" name enforce_bpf > "$1/enforce.skel.h"
' sh "$tmp"
cmp "$obj" "$tmp/enforce.bpf.o"
echo "enforce.bpf.o built without /sys/kernel/btf/vmlinux: identical to the build's ($(wc -c < "$obj") bytes)"
grep -q 'enforce_fields' "$tmp/enforce.skel.h"
grep -q 'enforce_getsockopt' "$tmp/enforce.skel.h"
echo "skeleton generated, with both read paths' programs"
echo "1 passed, 0 failed"
