#!/usr/bin/env bash
# make bench-radius: PPPoE session setup rate with RADIUS authentication
# against a real FreeRADIUS vs the local users file, in the same run (issue 3).
#
#   bbrad-<pid>-sub (loadgen, sub0) ──veth── (acc0) bbrad-<pid>-bng (bngbox)
#                                                     └─ udp 127.0.0.1:1812/1813 ─ freeradius -f
#
# Arms, each a fresh bngbox (userspace dataplane, cold: every session
# creates its TUN device), identical except for AAA:
#   local        auth: local users file   accounting: JSON-lines file
#   radius       auth: FreeRADIUS         accounting: JSON-lines file
#   radius-acct  auth: FreeRADIUS         accounting: FreeRADIUS (Start through the durable spool)
# The arms alternate, BENCH_ROUNDS times, and each round starts one arm
# later (local radius radius-acct, radius radius-acct local, …): the wave
# order matters by itself (±20 % here) and the machine's load drifts, so
# every arm gets every position. Compare the medians.
# FreeRADIUS (3.x, `freeradius -f`, its config written to the work
# directory) runs for the whole run in the bng namespace and accepts any
# user with password "secret" (users file DEFAULT entry); no reply
# attributes, so the address comes from bngbox's pool in every arm.
#
# Per wave: the loadgen report (setup rate = sessions up / first PADI to
# last session up, p50/p99 setup), CPU seconds of bngbox and FreeRADIUS
# during setup, and the RADIUS requests and timeouts from `show radius
# json`. At the end: a table, the median setup rate per arm, and the
# command that reproduces the run.
#
# Knobs (environment): BENCH_SESSIONS (500), BENCH_ROUNDS (3), BENCH_ARMS
# ("local radius radius-acct"), BENCH_AUTH (chap | pap, chap), BENCH_HOLD
# (3s), BENCH_CONCURRENCY (loadgen --concurrency, default the loadgen's),
# BENCH_RATE (0 = unpaced), BENCH_TIMEOUT (60s, per-session setup),
# BENCH_IPV6 (0: IPv4-only session devices, so the kernel's per-device IPv6
# work (docs/benchmarks.md, finding 3) does not drown the AAA difference; 1:
# IPv6CP and link-locals as in production), BENCH_KEEP=1 keeps the work
# directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${BNGBOX_BIN:-$(dirname "$0")/../bin/bngbox}
BIN=$(readlink -f "$BIN")
N=${BENCH_SESSIONS:-500}
ROUNDS=${BENCH_ROUNDS:-3}
ARMS=${BENCH_ARMS:-local radius radius-acct}
AUTH=${BENCH_AUTH:-chap}
HOLD=${BENCH_HOLD:-3s}
CONC=${BENCH_CONCURRENCY:-}
RATE=${BENCH_RATE:-0}
TIMEOUT=${BENCH_TIMEOUT:-60s}
IPV6=${BENCH_IPV6:-0}
SECRET=testing123
P=bbrad-$$
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, TUN devices)"; exit 1; }
[ -x "$BIN" ] || { echo "bench: $BIN not built (run make build)"; exit 1; }
command -v freeradius >/dev/null || { echo "bench: freeradius not installed (apt-get install freeradius)"; exit 1; }
for a in $ARMS; do
	case $a in local | radius | radius-acct) ;; *) echo "bench: unknown arm $a"; exit 1 ;; esac
done

dir=$(mktemp -d /tmp/bbrad.XXXXXX)
daemon=""
lg=""
radiusd=""
cleanup() {
	set +e
	[ -n "$lg" ] && kill "$lg" 2>/dev/null && wait "$lg" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$radiusd" ] && kill "$radiusd" 2>/dev/null && wait "$radiusd" 2>/dev/null
	for ns in sub bng; do ip netns del "$P-$ns" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

say() { printf '\n== %s\n' "$*"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"; }
cli() { "$BIN" cli --socket "$dir/cli.sock" "$@"; }
active() { cli show stat json 2>/dev/null | sed -n 's/.*"active": *\([0-9]*\).*/\1/p' | head -1; }
sessions() { cli show stat json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"starting":\([0-9]*\),"active":\([0-9]*\),"finishing":\([0-9]*\).*/\1 \2 \3/p' | awk '{print $1+$2+$3}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

say "machine"
echo "  $(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"), $(freeradius -v 2>/dev/null | sed -n '1s/.*Version \([0-9.]*\).*/FreeRADIUS \1/p')"
echo "  load: $(load)"
echo "  sessions $N, rounds $ROUNDS, arms: $ARMS, auth $AUTH, hold $HOLD, ipv6 $IPV6"

for ns in sub bng; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
ip link add "${P}a" type veth peer name "${P}b"
ip link set "${P}a" netns "$P-sub"; ip link set "${P}b" netns "$P-bng"
ip -n "$P-sub" link set "${P}a" name sub0; ip -n "$P-bng" link set "${P}b" name acc0
ip -n "$P-sub" link set sub0 up; ip -n "$P-bng" link set acc0 up
[ "$IPV6" = 1 ] || ip netns exec "$P-bng" sysctl -qw net.ipv6.conf.default.disable_ipv6=1

# FreeRADIUS: the tests' config (bench/lib.sh), with Message-Authenticator
# on every reply (bngbox drops unsigned replies; FreeRADIUS < 3.2.5 does not
# sign them by itself).
rd="$dir/raddb"
freeradius_conf "$rd" "$SECRET"
cat > "$rd/users" <<EOF
DEFAULT Cleartext-Password := "secret"
EOF
ip netns exec "$P-bng" freeradius -f -d "$rd" -l stdout > "$dir/freeradius.log" 2>&1 &
radiusd=$!
for _ in $(seq 200); do grep -q "Ready to process requests" "$dir/freeradius.log" && break; kill -0 "$radiusd" || break; sleep 0.1; done
grep -q "Ready to process requests" "$dir/freeradius.log" || { cat "$dir/freeradius.log"; echo "bench: freeradius did not start"; exit 1; }
echo "  freeradius pid $radiusd"

awk -v n="$N" 'BEGIN { print "users:"; for (i = 1; i <= n; i++) printf "  - {name: user%04d, password: secret}\n", i }' > "$dir/users.yaml"

# config ARM writes the daemon config of an arm.
config() {
	local aaa
	case $1 in
	local) aaa="auth: {backend: local, users-file: users.yaml}
accounting: {file: acct.jsonl, interim-interval: 0s}" ;;
	radius) aaa="auth: {backend: radius}
accounting: {file: acct.jsonl, interim-interval: 0s}
nas: {identifier: bench, ip: 127.0.0.1}
radius:
  auth-servers: [{address: \"127.0.0.1:1812\", secret: $SECRET}]" ;;
	radius-acct) aaa="auth: {backend: radius}
accounting: {backend: radius, interim-interval: 0s}
nas: {identifier: bench, ip: 127.0.0.1}
radius:
  auth-servers: [{address: \"127.0.0.1:1812\", secret: $SECRET}]
  acct-servers: [{address: \"127.0.0.1:1813\", secret: $SECRET}]
  spool-path: spool-$2.db" ;;
	esac
	cat > "$dir/bngbox.yaml" <<YAML
dataplane: userspace
log: {level: warn}
pppoe:
  interfaces: [{name: acc0, vlans: [untagged]}]
  max-sessions: $((N + 100))
  padi-rate-global: 100000
ppp:
  auth: [$AUTH]
  lcp-echo-interval: 10s
  ipv6: $([ "$IPV6" = 1 ] && echo true || echo false)
pools: [{name: default, range: 100.64.0.0/16}]
$aaa
cli: {socket: $dir/cli.sock}
YAML
	"$BIN" config check -c "$dir/bngbox.yaml" >/dev/null
}

lgflags=(-i sub0 -n "$N" --auth "$AUTH" --hold "$HOLD" --rate "$RATE" --timeout "$TIMEOUT")
[ -n "$CONC" ] && lgflags+=(--concurrency "$CONC")
fail=0
results="$dir/results"
: > "$results"

# wave ARM ROUND: one daemon, one loadgen run; appends a line to $results.
wave() {
	local arm=$1 round=$2 up b0 r0 b1 r1 rate p50 p99 req to
	config "$arm" "$round"
	say "$arm, round $round: $N sessions ($AUTH), load $(load)"
	ip netns exec "$P-bng" "$BIN" run -c "$dir/bngbox.yaml" 2> "$dir/bngbox-$arm-$round.log" &
	daemon=$!
	for _ in $(seq 100); do [ -S "$dir/cli.sock" ] && cli show stat >/dev/null 2>&1 && break; sleep 0.1; done
	cli show stat >/dev/null || { cat "$dir/bngbox-$arm-$round.log"; exit 1; }
	sleep 1
	b0=$(cpu_s "$daemon"); r0=$(cpu_s "$radiusd")
	ip netns exec "$P-sub" "$BIN" loadgen "${lgflags[@]}" > "$dir/lg.out" 2>&1 &
	lg=$!
	while :; do # bounded by the loadgen's per-session --timeout
		up=$(active); [ "${up:-0}" -ge "$N" ] && break
		kill -0 "$lg" 2>/dev/null || break
		sleep 0.1
	done
	b1=$(cpu_s "$daemon"); r1=$(cpu_s "$radiusd")
	if [ "$arm" != local ]; then
		cli show radius json | tr -d ' \n' | sed 's/},{/}\n{/g' | sed -n 's/.*"role":"\([a-z]*\)".*"requests":\([0-9]*\),"timeouts":\([0-9]*\).*"latency_avg_ns":\([0-9]*\).*/\1 \2 \3 \4/p' > "$dir/radius.txt" || true
	fi
	wait "$lg" || fail=1
	lg=""
	echo "  loadgen: $(cat "$dir/lg.out")"
	grep -q "sessions up: $N/$N" "$dir/lg.out" || { echo "  FAIL: not every session came up"; fail=1; }
	grep -q "dropped by AC" "$dir/lg.out" && { echo "  FAIL: sessions dropped while held"; fail=1; }
	rate=$(sed -n 's/.* \([0-9.]*\) setups\/s.*/\1/p' "$dir/lg.out")
	p50=$(sed -n 's/.*setup p50 \([^ ]*\) .*/\1/p' "$dir/lg.out")
	p99=$(sed -n 's/.*p99 \([^ ;,]*\).*/\1/p' "$dir/lg.out")
	echo "  CPU during setup: bngbox $(awk -v a="$b0" -v b="$b1" -v n="$N" 'BEGIN{printf "%.2f s (%.2f ms/session)", b-a, (b-a)*1000/n}'), freeradius $(awk -v a="$r0" -v b="$r1" -v n="$N" 'BEGIN{printf "%.2f s (%.2f ms/session)", b-a, (b-a)*1000/n}')"
	req="-"; to="-"
	if [ "$arm" != local ]; then
		awk '{printf "  show radius: %s requests %d, timeouts %d, average latency %.1f ms\n", $1, $2, $3, $4/1e6}' "$dir/radius.txt"
		req=$(awk '$1 == "auth" {print $2}' "$dir/radius.txt"); to=$(awk '{t += $3} END {print t+0}' "$dir/radius.txt")
		[ "${req:-0}" -ge "$N" ] || { echo "  FAIL: $req auth requests for $N sessions"; fail=1; }
	fi
	echo "$arm $round ${rate:-0} ${p50:--} ${p99:--} $(awk -v a="$b0" -v b="$b1" -v n="$N" 'BEGIN{printf "%.2f", (b-a)*1000/n}') $(awk -v a="$r0" -v b="$r1" -v n="$N" 'BEGIN{printf "%.2f", (b-a)*1000/n}') ${req:--} ${to:--}" >> "$results"
	# Every session gone, then stop the daemon (it deletes the devices).
	for _ in $(seq 3000); do [ "$(sessions)" = 0 ] && break; sleep 0.2; done
	kill "$daemon"; wait "$daemon" || true
	daemon=""
	# The kernel may still be unregistering devices: let it finish before
	# the next wave (bounded).
	for _ in $(seq 600); do ip -n "$P-bng" -o link show 2>/dev/null | grep -q ': ppp[0-9]' || break; sleep 0.1; done
	sleep 1
}

# Round r starts with arm r (mod the number of arms): over as many rounds as
# arms, every arm runs once in every position.
read -r -a arms <<< "$ARMS"
for round in $(seq "$ROUNDS"); do
	for i in $(seq 0 $((${#arms[@]} - 1))); do
		wave "${arms[$(((round - 1 + i) % ${#arms[@]}))]}" "$round"
	done
done

say "results ($N sessions, $AUTH, ipv6 $IPV6; load at the end $(load))"
printf '  %-12s %5s %10s %9s %9s %14s %14s %8s %8s\n' arm round setups/s p50 p99 "bngbox CPU ms" "radiusd CPU ms" requests timeouts
while read -r arm round rate p50 p99 b r req to; do
	printf '  %-12s %5s %10s %9s %9s %14s %14s %8s %8s\n' "$arm" "$round" "$rate" "$p50" "$p99" "$b" "$r" "$req" "$to"
done < "$results"
echo "  median setups/s per arm:"
for arm in $ARMS; do
	awk -v a="$arm" '$1 == a {print $3}' "$results" | sort -n | awk -v a="$arm" '{v[NR] = $1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "    %-12s %.0f (%d waves)\n", a, m, NR}'
done

say "reproduce"
echo "  BENCH_SESSIONS=$N BENCH_ROUNDS=$ROUNDS BENCH_ARMS=\"$ARMS\" BENCH_AUTH=$AUTH BENCH_HOLD=$HOLD${CONC:+ BENCH_CONCURRENCY=$CONC} BENCH_RATE=$RATE BENCH_TIMEOUT=$TIMEOUT BENCH_IPV6=$IPV6 make bench-radius"
[ "$fail" = 0 ] || { echo "bench: FAILED"; exit 1; }
echo "bench: ok"
