#!/bin/sh
# The benchmark harness of GitHub issue 4, in one command (needs root):
#
#   sudo tests/bench/run.sh [--sizes 10000,100000,500000,1000000] [--collections K]
#                           [--wrk-seconds S] [--no-write]
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
# A python3 that has matplotlib (Debian's python3-matplotlib), for the plot.
PY=python3
if ! "$PY" -c 'import matplotlib' 2>/dev/null && [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
fi
exec "$PY" tests/bench/run.py --build "$BUILD" "$@"
