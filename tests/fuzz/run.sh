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

CFLAGS=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=all -fno-omit-frame-pointer -I"$ROOT" -I"$ROOT/collectors")
LIBS_CONFIG=(-lyaml $(pkg-config --libs gnutls libcrypt))
LIBS_HTTP=(-lmicrohttpd -lyaml -lz -lpthread $(pkg-config --libs gnutls libcrypt))

build() { # target
	local t=$1 bin="$OUT/fuzz_$1" src=()
	case $t in
	config) src=("$ROOT"/config/*.c common/buf.c common/file.c) ;;
	sockdiag) src=(collectors/sockdiag_parse.c collectors/classify.c) ;;
	conntrack) src=(collectors/conntrack_parse.c) ;;
	http) src=(exporter/http/http.c exporter/http/http_auth.c exporter/http/http_negotiate.c exporter/http/http_listen.c exporter/http/http_tls.c exporter/http/http_conn.c exporter/http/http_gzip.c exporter/http/http_login.c exporter/http/http_publish.c exporter/http/http_reload.c exporter/http/http_request.c exporter/http/http_response.c exporter/http/http_route.c exporter/http/http_stats.c exporter/log.c "$ROOT"/config/*.c common/buf.c common/escape.c common/file.c common/hash.c common/metric_writer.c) ;;
	*) echo "unknown target $t" >&2; return 1 ;;
	esac
	local libs=()
	[ "$t" = config ] && libs=("${LIBS_CONFIG[@]}")
	[ "$t" = http ] && libs=("${LIBS_HTTP[@]}")
	(cd "$ROOT" && "$CC" "${CFLAGS[@]}" -o "$bin" "$HERE/fuzz_$t.c" "${src[@]}" "${libs[@]}")
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
