#!/bin/bash
# The classic reproduction, played by itself in a throwaway network
# namespace, with the exporter watching: a server and a client on
# 127.0.0.1:12345, the network loses the client (iptables DROP inside the
# namespace), the server is killed; then the client writes. Prints the
# /metrics lines of the two services as they change, with what each means.
# Touches nothing of the host: the namespace, its iptables rules, its
# processes and the temporary files go on success, failure and Ctrl-C.
#
#   scripts/demo.sh EXPORTER      (scripts/dev demo builds it and calls this)
# Exit 0 when every stage was seen, 1 when one did not come in time.
set -euo pipefail

exporter=$(realpath "${1:?usage: scripts/demo.sh path/to/halfopen_exporter}")
config=$(realpath "$(dirname "$0")/../config/examples/seed.yaml")
[ "$(id -u)" -eq 0 ] || exec sudo "$0" "$@"

ns=ho-demo-$$
tmp=$(mktemp -d)
pids=()
t0=$EPOCHREALTIME

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
	echo "demo: cleaned up (namespace $ns and its processes, iptables rules and files are gone)"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

say() { awk -v now="$EPOCHREALTIME" -v t0="$t0" -v msg="$*" 'BEGIN { printf "[%5.1fs] %s\n", now - t0, msg }'; }
# (Processes the demo kills later are started with ip netns exec itself,
# not this function, so that $! is their pid and not a subshell's.)
in_ns() { ip netns exec "$ns" "$@"; }

meaning() { # family -> one line
	case $1 in
	halfopen_established_sockets) echo "connections in ESTABLISHED";;
	halfopen_stale_sockets) echo "ESTABLISHED, but nothing received for stale_after (3s here): half-open, or idle and never verified";;
	halfopen_retransmitting_sockets) echo "sent data or a FIN the peer never acknowledged: TCP is retransmitting into the void";;
	halfopen_longest_unanswered_seconds) echo "how long the oldest unanswered socket has waited: the hang's age (TCP gives up after ~15 min)";;
	esac
}

# The lines of the two seed services that say something (non-zero).
interesting() {
	in_ns curl -sf --max-time 2 http://127.0.0.1:19100/metrics 2>/dev/null |
		grep -E '^halfopen_(established|stale|retransmitting)_sockets|^halfopen_longest_unanswered_seconds' |
		grep 'seed-' | grep -v ' 0$' || true
}

shown=""
explained=" "
# Print what changed since the last call, and a family's meaning the first
# time it shows.
show_changes() {
	local now line fam
	now=$(interesting)
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		grep -qxF -- "$line" <<<"$shown" && continue
		fam=${line%%\{*}
		say "  $line"
		if [[ $explained != *" $fam "* ]]; then
			printf '           ^ %s\n' "$(meaning "$fam")"
			explained+="$fam "
		fi
	done <<<"$now"
	shown=$now
}

# Show changes until a line matching the pattern is there (or 20 s pass).
await() { # pattern what
	local deadline=$((SECONDS + 20))
	while [ $SECONDS -lt $deadline ]; do
		show_changes
		if grep -qE -- "$1" <<<"$shown"; then return 0; fi
		sleep 0.3
	done
	say "demo: FAILED: no $2 within 20 s; /metrics had:"
	interesting | sed 's/^/    /'
	exit 1
}

ip netns add "$ns"
in_ns ip link set lo up
say "namespace $ns (its own loopback, sockets and iptables)"

ip netns exec "$ns" "$exporter" --config.file="$config" --collector.interval=500ms \
	--web.listen-address=127.0.0.1:19100 --log.level=warn 2>"$tmp/exporter.log" &
pids+=("$!")
say "exporter pid $! : --config.file=config/examples/seed.yaml (stale_after 3s) --collector.interval=500ms"

# Server and client: nc, each reading a FIFO the demo holds open, so
# neither hangs up on its own and the client can be made to write.
mkfifo "$tmp/server.in" "$tmp/client.in"
ip netns exec "$ns" nc -l 127.0.0.1 12345 <"$tmp/server.in" >/dev/null &
server=$!
pids+=("$server")
exec 4>"$tmp/server.in"
for _ in $(seq 50); do in_ns ss -tlnH 'sport = :12345' | grep -q . && break; sleep 0.1; done
ip netns exec "$ns" nc 127.0.0.1 12345 <"$tmp/client.in" >/dev/null &
pids+=("$!")
exec 5>"$tmp/client.in"
say "server pid $server (nc -l 127.0.0.1 12345), client pid $! (nc 127.0.0.1 12345)"

say "1. healthy: the client is connected"
await 'established_sockets\{tcp_service="seed-client"' "established client"

cport=
for _ in $(seq 50); do
	cport=$(in_ns ss -tnH state established 'dport = :12345' | awk '{n=split($3,a,":"); print a[n]; exit}')
	[ -n "$cport" ] && break
	sleep 0.1
done
in_ns iptables -w 5 -A INPUT -p tcp -d 127.0.0.1 --sport 12345 --dport "$cport" -j DROP
kill "$server"
say "2. the network loses the client (iptables DROP of what reaches port $cport), the server is killed (its FIN is lost)"
await 'retransmitting_sockets\{tcp_service="seed-server"' "retransmitting server"
await 'stale_sockets\{tcp_service="seed-client"' "stale client"

echo "hello?" >&5
say "3. the client writes: a request sent on a half-open connection"
await 'retransmitting_sockets\{tcp_service="seed-client"' "retransmitting client"
# Let the hang's age climb a little.
end=$((SECONDS + 3))
while [ $SECONDS -lt $end ]; do show_changes; sleep 0.5; done
show_changes

say "demo: OK: saw healthy -> stale -> retransmitting (the client would hang ~15 min, until tcp_retries2)"
