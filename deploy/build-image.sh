#!/bin/bash
# Build the halfopen_exporter container image with buildah (see
# deploy/Containerfile for what goes in and why).
#
#   deploy/build-image.sh [--binary PATH] [--tag NAME] [--root DIR] [--archive FILE]
#
#   --binary   the exporter to package (default: build it with meson into
#              build-image/ and use build-image/halfopen_exporter)
#   --tag      image name (default localhost/halfopen-exporter:<version>)
#   --root     private buildah storage under DIR (storage/, run/) instead of
#              the system's; the tests use one in the build directory
#   --archive  also write the image as an OCI archive to FILE, for
#              `ctr -n k8s.io images import` or `podman load` on a node
#
# buildah runs with the vfs storage driver and chroot isolation: no
# overlayfs, no user namespaces, no container runtime needed. Prints the
# image id on the last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
binary= tag= root= archive=
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) binary=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	--root) root=$2; shift 2 ;;
	--archive) archive=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

command -v buildah >/dev/null || { echo "build-image.sh: buildah not installed (apt-get install buildah)" >&2; exit 1; }

if [ -z "$binary" ]; then
	if [ ! -f "$src/build-image/build.ninja" ]; then
		meson setup "$src/build-image" "$src" --buildtype=release >/dev/null
	fi
	ninja -C "$src/build-image" halfopen_exporter >/dev/null
	binary=$src/build-image/halfopen_exporter
fi
[ -x "$binary" ] || { echo "build-image.sh: $binary is not an executable" >&2; exit 1; }
version=$("$binary" --version | awk '{print $3; exit}')
[ -n "$tag" ] || tag=localhost/halfopen-exporter:${version:-dev}

bflags=(--storage-driver vfs)
if [ -n "$root" ]; then
	mkdir -p "$root/storage" "$root/run"
	bflags+=(--root "$root/storage" --runroot "$root/run")
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
rootfs=$ctx/rootfs
mkdir -p "$rootfs/usr/bin" "$rootfs/etc"
install -m 0755 "$binary" "$rootfs/usr/bin/halfopen_exporter"
strip --strip-unneeded "$rootfs/usr/bin/halfopen_exporter" 2>/dev/null || true

# Exactly what the loader would map: every "=> /path" of ldd, plus the
# interpreter named in the binary itself. Copied dereferenced, under the
# name the binary asks for, so no symlink has to survive the COPY.
copy_in() { # path
	local p=$1
	mkdir -p "$rootfs$(dirname "$p")"
	cp -L "$p" "$rootfs$p"
}
ldd_out=$(ldd "$binary")
while read -r lib; do
	copy_in "$lib"
done < <(printf '%s\n' "$ldd_out" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[ -n "$interp" ] || { echo "build-image.sh: no program interpreter in $binary" >&2; exit 1; }
copy_in "$interp"

cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/:/nonexistent
nobody:x:65534:65534:nobody:/:/nonexistent
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
cp "$here/Containerfile" "$ctx/Containerfile"

# Rebuilding a tag leaves the previous image dangling: remember it.
old=$(buildah "${bflags[@]}" images --quiet --no-trunc "$tag" 2>/dev/null | head -n1 || true)
buildah "${bflags[@]}" build --isolation chroot --layers=false --quiet \
	--label "org.opencontainers.image.version=$version" \
	-f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null
new=$(buildah "${bflags[@]}" images --quiet --no-trunc "$tag" | head -n1)
if [ -n "$old" ] && [ "$old" != "$new" ]; then
	buildah "${bflags[@]}" rmi "$old" >/dev/null 2>&1 || true
fi
if [ -n "$archive" ]; then
	rm -f "$archive"
	buildah "${bflags[@]}" push --quiet "$tag" "oci-archive:$archive:$tag" >/dev/null
fi
echo "build-image.sh: $tag ($(du -sh "$rootfs" | cut -f1) uncompressed)" >&2
echo "$new"
