#!/bin/sh
# The one skip policy (README.md, "Tests"): a suite that cannot run here
# (not root) exits 77, and 1 under CI=true. Run without root (as nobody
# when started as root) on one harness of each kind: the scenario runner,
# a hardening test (hlib), a Python suite with its own main (matrix) and a
# C test (testing.h's SKIP_MAIN).
# Usage: skip_policy.sh SOURCE_ROOT BUILD_ROOT
src=$1 build=$2
py=/usr/bin/python3
[ -x "$py" ] || py=python3
as=
if [ "$(id -u)" -eq 0 ]; then
	as="setpriv --reuid=65534 --regid=65534 --clear-groups"
	# nobody may not read the tree (a clone under /root): a readable copy
	# of what the harnesses import.
	tmp=$(mktemp -d /tmp/ho-skip-policy.XXXXXX) || exit 1
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/src/tests" "$tmp/build/tests/hardening"
	for d in scenario hardening matrix; do cp -r "$src/tests/$d" "$tmp/src/tests/"; done
	cp "$build/halfopen_exporter" "$tmp/build/"
	cp "$build/tests/hardening/test_privileges" "$tmp/build/tests/hardening/"
	chmod -R a+rX "$tmp"
	src=$tmp/src build=$tmp/build
fi
fails=0
check() { # want ci name cmd...
	want=$1 ci=$2 name=$3
	shift 3
	(cd /tmp && CI=$ci HALFOPEN_SOURCE_ROOT="$src" HALFOPEN_EXPORTER="$build/halfopen_exporter" \
		$as "$@" >/dev/null 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		echo "ok   $name, CI=$ci: exit $rc"
	else
		echo "FAIL $name, CI=$ci: exit $rc, want $want"
		fails=$((fails + 1))
	fi
}
for ci in false true; do
	want=77
	[ "$ci" = true ] && want=1
	check $want $ci scenario "$py" "$src/tests/scenario/run.py" seed
	check $want $ci hardening "$py" "$src/tests/hardening/netns_lost.py" refresh
	check $want $ci matrix "$py" "$src/tests/matrix/run.py"
	check $want $ci "C test" "$build/tests/hardening/test_privileges"
done
echo "$((8 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
