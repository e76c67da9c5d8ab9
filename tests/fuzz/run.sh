#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run them.
#   tests/fuzz/run.sh OUTDIR SECONDS [TARGET...]
# TARGET: config, sockdiag, conntrack, http (default: all). Each runs SECONDS from the
# committed seeds (tests/fuzz/corpus/TARGET, never written to: new inputs go
# to OUTDIR/corpus-TARGET). Prints the executions per target and the closing
# "N passed, M failed"; a crash leaves OUTDIR/crash-* and fails. Long runs
# (docs/security.md): SECONDS=3600 and several -jobs by hand.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: run.sh OUTDIR SECONDS [TARGET...]}
SECS=${2:?usage: run.sh OUTDIR SECONDS [TARGET...]}
shift 2
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config sockdiag conntrack http)
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT"

# The targets link the layer libraries (tests/fuzz/meson.build), built here
# by meson with clang: every source instrumented for libFuzzer and the
# sanitizers, so there is no source list to keep in step with the tree.
BUILD="$OUT/clang-build"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
configure() {
	[ -f "$BUILD/build.ninja" ] && return 0
	CC="$CC" meson setup "$BUILD" "$ROOT" -Dfuzzing=true -Dbpf=disabled -Dwerror=false \
		-Dbuildtype=plain -Db_lundef=false \
		-Dc_args="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN" \
		-Dc_link_args="$SAN" >"$OUT/meson-setup.log" 2>&1 ||
		{ tail -20 "$OUT/meson-setup.log"; rm -rf "$BUILD"; return 1; }
}

build() { # target
	configure || return 1
	ninja -C "$BUILD" "tests/fuzz/fuzz_$1" >"$OUT/build-$1.log" 2>&1 ||
		{ tail -40 "$OUT/build-$1.log"; return 1; }
	ln -sf "$BUILD/tests/fuzz/fuzz_$1" "$OUT/fuzz_$1"
}

passed=0 failed=0
for t in "${TARGETS[@]}"; do
	if ! build "$t"; then
		echo "fuzz $t: build failed"
		failed=$((failed + 1))
		continue
	fi
	work="$OUT/corpus-$t"
	# Leak checks per input stop every thread: with the HTTP server's threads
	# allocating in the background that is a check per input. Leaks are the
	# unit tests' job there (ASan, valgrind).
	extra=
	[ "$t" = http ] && extra=-detect_leaks=0
	mkdir -p "$work"
	log="$OUT/fuzz_$t.log"
	# -timeout: one input taking seconds is a finding (a hang).
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$OUT/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$OUT/" $extra "$work" "$HERE/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "fuzz $t: ${execs:-?} executions in ${SECS}s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) new + $(ls "$HERE/corpus/$t" | wc -l) seeds: ok"
		passed=$((passed + 1))
	else
		echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; log $log:"
		tail -40 "$log"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
