#!/bin/sh
# The benchmark harness of GitHub issue 4, in one command (needs root):
#
#   sudo tests/bench/run.sh [--sizes 10000,100000,500000,1000000] [--collections K]
#                           [--wrk-seconds S] [--no-write] [--previous REV]
#
# --previous REV (a git revision, e.g. the last release's tag) builds that
# revision's exporter in $BUILD-previous/ from `git archive` and runs the same
# /metrics measurements (wrk, paced wrk) on it right after this build's, at
# every size, so the report compares the two HTTP sides in one run.
#
# Builds a release build in build-bench/ (or $BENCH_BUILD), then runs
# tests/bench/run.py, which writes BENCHMARKS.md, docs/benchmarks/
# collection_time.png and docs/benchmarks/results.json. Sizes are
# established loopback connections (2 sockets each). Not part of meson test.
# What it needs beyond the build: scripts/deps.sh bench (run here first).
set -eu
cd "$(dirname "$0")/../.."
# wrk, prometheus-node-exporter, python3-matplotlib (quiet when present).
scripts/deps.sh bench
BUILD=${BENCH_BUILD:-build-bench}
if [ ! -f "$BUILD/build.ninja" ]; then
	# werror off: a release-only warning in a file being edited must not stop a benchmark.
	meson setup "$BUILD" --buildtype=release
fi
ninja -C "$BUILD" halfopen_exporter tests/sockdiag_record
# loadgen, runstat, rawdump: through meson when tests/meson.build has subdir('bench'), else cc.
for t in loadgen runstat rawdump; do
	if ! ninja -C "$BUILD" "tests/bench/$t" >/dev/null 2>&1; then
		mkdir -p "$BUILD/tests/bench"
		cc -O2 -Wall -Wextra -o "$BUILD/tests/bench/$t" "tests/bench/$t.c"
	fi
done
# --previous REV: build REV (release) and hand run.py its binary instead.
# The arguments are rotated: each is shifted off and, unless it is
# --previous, appended again.
PREV_REV=
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	case "$a" in
	--previous)
		[ "$n" -gt 0 ] || { echo "run.sh: --previous needs a git revision" >&2; exit 2; }
		PREV_REV=$1
		shift
		n=$((n - 1))
		;;
	--previous=*) PREV_REV=${a#--previous=} ;;
	*) set -- "$@" "$a" ;;
	esac
done
if [ -n "$PREV_REV" ]; then
	PREV_ID=$(git rev-parse --short "$PREV_REV^{commit}")
	PREV_DIR="$BUILD-previous-$PREV_ID"
	if [ ! -f "$PREV_DIR/build/build.ninja" ]; then
		rm -rf "$PREV_DIR" && mkdir -p "$PREV_DIR/src"
		git archive "$PREV_ID" | tar -x -C "$PREV_DIR/src"
		meson setup "$PREV_DIR/build" "$PREV_DIR/src" --buildtype=release -Dwerror=false
	fi
	ninja -C "$PREV_DIR/build" halfopen_exporter
	set -- "$@" --previous "$PREV_DIR/build/halfopen_exporter" --previous-label "$PREV_ID"
fi
# A python3 that has matplotlib (Debian's python3-matplotlib), for the plot.
PY=python3
if ! "$PY" -c 'import matplotlib' 2>/dev/null && [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
fi
exec "$PY" tests/bench/run.py --build "$BUILD" "$@"
