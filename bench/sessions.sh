#!/usr/bin/env bash
# make bench-system: whole-system PPPoE session benchmark (issue 2).
#
#   bbbench-<pid>-sub (loadgen, sub0) ──veth── (acc0) bbbench-<pid>-bng (bngbox)
#
# bngbox runs with the userspace dataplane and local auth; `bngbox loadgen`
# brings BENCH_SESSIONS subscribers up (PAP), holds them BENCH_HOLD while LCP
# echo keepalive runs every BENCH_ECHO, then hangs up. That is the cold wave:
# every session creates its TUN device. With BENCH_UNIT_CACHE > 0 a second,
# cached wave follows against the same daemon: closed sessions parked their
# devices (userspace.unit-cache) and the new sessions reuse them.
#
# Reported per wave: the loadgen report (setup rate, p50/p99, drops while
# held), bngbox VmRSS before and at peak, RSS delta per session, CPU seconds
# of bngbox and loadgen, and `show stat` at peak.
#
# Knobs (environment): BENCH_SESSIONS (1000), BENCH_HOLD (35s), BENCH_ECHO
# (10s), BENCH_UNIT_CACHE (= BENCH_SESSIONS; 0 = cold wave only),
# BENCH_CONCURRENCY (loadgen --concurrency, default the loadgen's),
# BENCH_RATE (loadgen --rate, 0 = unpaced), BENCH_TIMEOUT (loadgen
# --timeout, per-session setup, 60s), BENCH_AUTH (pap), BENCH_PPROF
# (host:port for bngbox's pprof listener, empty = off), BENCH_IPV6 (1; 0 =
# IPv4-only: ppp.ipv6 false and IPv6 disabled on new devices in the bngbox
# namespace, see docs/benchmarks.md), BENCH_TELEMETRY (0; 1 = the embedded
# MQTT broker on, an operator's mosquitto_sub reading every topic, and the
# published start/usage/stop messages counted per wave), BENCH_INTERIM
# (accounting.interim-interval: 0s, or 60s with BENCH_TELEMETRY=1),
# BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

BIN=${BNGBOX_BIN:-$(dirname "$0")/../bin/bngbox}
BIN=$(readlink -f "$BIN")
N=${BENCH_SESSIONS:-1000}
HOLD=${BENCH_HOLD:-35s}
ECHO=${BENCH_ECHO:-10s}
CACHE=${BENCH_UNIT_CACHE:-$N}
CONC=${BENCH_CONCURRENCY:-}
TIMEOUT=${BENCH_TIMEOUT:-60s}
RATE=${BENCH_RATE:-0}
AUTH=${BENCH_AUTH:-pap}
IPV6=${BENCH_IPV6:-1}
PREFILL=${BENCH_PREFILL:-0}
TELEMETRY=${BENCH_TELEMETRY:-0}
INTERIM=${BENCH_INTERIM:-$([ "$TELEMETRY" = 1 ] && echo 60s || echo 0s)}
P=bbbench-$$
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, TUN devices)"; exit 1; }
[ -x "$BIN" ] || { echo "bench: $BIN not built (run make build)"; exit 1; }
[ "$TELEMETRY" = 0 ] || command -v mosquitto_sub >/dev/null || { echo "bench: BENCH_TELEMETRY=1 needs mosquitto_sub (apt-get install mosquitto-clients)"; exit 1; }

dir=$(mktemp -d /tmp/bbbench.XXXXXX)
daemon=""
lg=""
msub=""
cleanup() {
	set +e
	[ -n "$msub" ] && kill "$msub" 2>/dev/null
	# $lg is /usr/bin/time (ip netns exec execs it); the loadgen is its child.
	[ -n "$lg" ] && kill $(pgrep -P "$lg") "$lg" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	for ns in sub bng; do ip netns del "$P-$ns" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM
for ns in sub bng; do ip netns del "$P-$ns" 2>/dev/null || true; done

say() { printf '\n== %s\n' "$*"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# cpu_s prints utime+stime of a process in seconds; cpu_us prints "user sys".
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"; }
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f %.2f", $14/hz, $15/hz}' "/proc/$1/stat"; }
cli() { "$BIN" cli --socket "$dir/cli.sock" "$@"; }
active() { cli show stat json 2>/dev/null | sed -n 's/.*"active": *\([0-9]*\).*/\1/p' | head -1; }
# sessions prints every session the daemon has (starting, active, finishing).
sessions() { cli show stat json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"starting":\([0-9]*\),"active":\([0-9]*\),"finishing":\([0-9]*\).*/\1 \2 \3/p' | awk '{print $1+$2+$3}'; }

say "machine"
echo "  $(nproc) CPU, $(uname -r), $(go version 2>/dev/null | cut -d' ' -f3-), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  sessions $N, hold $HOLD, lcp-echo-interval $ECHO, unit-cache $CACHE, prefill $PREFILL, auth $AUTH, ipv6 $IPV6, telemetry $TELEMETRY, interim $INTERIM"

for ns in sub bng; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
ip link add "${P}a" type veth peer name "${P}b"
ip link set "${P}a" netns "$P-sub"; ip link set "${P}b" netns "$P-bng"
ip -n "$P-sub" link set "${P}a" name sub0; ip -n "$P-bng" link set "${P}b" name acc0
ip -n "$P-sub" link set sub0 up; ip -n "$P-bng" link set acc0 up
# IPv4-only: no IPv6 on the TUN devices at all (each device's IPv6 routes make
# every later link-up walk the whole IPv6 FIB).
[ "$IPV6" = 1 ] || ip netns exec "$P-bng" sysctl -qw net.ipv6.conf.default.disable_ipv6=1

awk -v n="$N" 'BEGIN { print "users:"; for (i = 1; i <= n; i++) printf "  - {name: user%04d, password: secret}\n", i }' > "$dir/users.yaml"
cat > "$dir/bngbox.yaml" <<YAML
dataplane: userspace
userspace: {unit-cache: $CACHE, unit-cache-prefill: $([ "$PREFILL" = 1 ] && echo true || echo false)}
log: {level: warn}
pppoe:
  interfaces: [{name: acc0, vlans: [untagged]}]
  max-sessions: $((N + 100))
  padi-rate-global: 100000
ppp:
  auth: [$AUTH]
  lcp-echo-interval: $ECHO
  lcp-echo-failure: 3
  ipv6: $([ "$IPV6" = 1 ] && echo true || echo false)
pools: [{name: default, range: 100.64.0.0/16}]
auth: {backend: local, users-file: users.yaml}
accounting: {file: acct.jsonl, interim-interval: $INTERIM}
cli: {socket: $dir/cli.sock}
YAML
if [ "$TELEMETRY" = 1 ]; then
	cat >> "$dir/bngbox.yaml" <<YAML
telemetry:
  enabled: true
  listen: 127.0.0.1:1883
  operators: [{user: noc, password: bench}]
  store: $dir/telemetry.db
YAML
fi
"$BIN" config check -c "$dir/bngbox.yaml" >/dev/null

env ${BENCH_PPROF:+BNGBOX_PPROF_LISTEN=$BENCH_PPROF} ip netns exec "$P-bng" "$BIN" run -c "$dir/bngbox.yaml" 2> "$dir/bngbox.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$dir/cli.sock" ] && cli show stat >/dev/null 2>&1 && break; sleep 0.1; done
cli show stat >/dev/null || { cat "$dir/bngbox.log"; exit 1; }
if [ "$PREFILL" = 1 ] && [ "$CACHE" -gt 0 ]; then
	t0=$SECONDS
	while [ "$(ip -n "$P-bng" -o link show group 25186 2>/dev/null | wc -l)" -lt "$CACHE" ]; do
		kill -0 "$daemon" || { cat "$dir/bngbox.log"; exit 1; }
		sleep 0.2
	done
	echo "  unit cache prefilled: $CACHE devices in $((SECONDS - t0)) s"
fi
if [ "$TELEMETRY" = 1 ]; then
	# The operator reads everything; each wave's messages are counted from
	# its share of this file.
	ip netns exec "$P-bng" mosquitto_sub -h 127.0.0.1 -u noc -P bench -i bench-noc -q 1 -t 'bngbox/#' -v > "$dir/mqtt.out" 2> "$dir/mqtt.err" &
	msub=$!
fi
sleep 1
rss0=$(rss_kib "$daemon")
echo "  bngbox pid $daemon, VmRSS idle $rss0 KiB"

lgflags=(-i sub0 -n "$N" --auth "$AUTH" --hold "$HOLD" --rate "$RATE" --timeout "$TIMEOUT")
[ -n "$CONC" ] && lgflags+=(--concurrency "$CONC")
fail=0

# wave NAME: one loadgen run; prints its report and the daemon's numbers.
wave() {
	local name=$1 cpu0 us0 up peak rss lgcpu mqtt0=0
	say "$name wave: $N sessions, held $HOLD"
	if [ "$TELEMETRY" = 1 ]; then mqtt0=$(wc -l < "$dir/mqtt.out"); fi
	cpu0=$(cpu_s "$daemon"); us0=$(cpu_us "$daemon")
	ip netns exec "$P-sub" /usr/bin/time -f '%U %S' -o "$dir/lg.time" "$BIN" loadgen "${lgflags[@]}" > "$dir/lg.out" 2>&1 &
	lg=$!
	while :; do # bounded by the loadgen's per-session --timeout
		up=$(active); [ "${up:-0}" -ge "$N" ] && break
		kill -0 "$lg" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	peak=$(active); rss=$(rss_kib "$daemon")
	echo "  bngbox CPU during setup: $(awk -v a="$cpu0" -v b="$(cpu_s "$daemon")" -v n="$N" 'BEGIN{printf "%.2f s (%.2f ms/session)", b-a, (b-a)*1000/n}'), user sys: $(echo "$us0 $(cpu_us "$daemon")" | awk '{printf "%.2f %.2f", $3-$1, $4-$2}') s"
	echo "  active at peak: ${peak:-0}; bngbox VmRSS $rss KiB (idle $rss0 KiB)"
	awk -v a="$rss0" -v b="$rss" -v n="${peak:-0}" 'BEGIN { if (n > 0) printf "  RSS delta/session: %.1f KiB\n", (b-a)/n }'
	echo "  show stat at peak:"; cli show stat | grep -v ': *0$' | sed 's/^/    /'
	# End of the hold: the sessions have answered several LCP echoes.
	while kill -0 "$lg" 2>/dev/null && [ "$(active)" -ge "$N" ] 2>/dev/null; do
		rss=$(rss_kib "$daemon"); sleep 1
	done
	echo "  end of hold: bngbox VmRSS $rss KiB, $(awk -v a="$rss0" -v b="$rss" -v n="$N" 'BEGIN { printf "%.1f KiB/session", (b-a)/n }')"
	wait "$lg" || fail=1
	lg=""
	echo "  loadgen: $(cat "$dir/lg.out")"
	lgcpu=$(tail -1 "$dir/lg.time")
	echo "  loadgen CPU (user sys): $lgcpu s ($(echo "$lgcpu" | awk -v n="$N" '{printf "%.2f", ($1+$2)*1000/n}') ms/session)"
	grep -q "sessions up: $N/$N" "$dir/lg.out" || { echo "  FAIL: not every session came up"; fail=1; }
	grep -q "dropped by AC" "$dir/lg.out" && { echo "  FAIL: sessions dropped while held"; fail=1; }
	echo "  dropped by AC while held: $(sed -n 's/.*dropped by AC while held: \([0-9]*\).*/\1/p' "$dir/lg.out" | grep . || echo 0)"
	# Wait for the daemon to finish tearing down (every session gone and its
	# device parked or deleted) before the next wave.
	local t0=$SECONDS
	for _ in $(seq 3000); do [ "$(sessions)" = 0 ] && break; sleep 0.2; done
	echo "  teardown: $((SECONDS - t0)) s until no session is left"
	sleep 2
	if [ "$TELEMETRY" = 1 ]; then mqtt_count "$mqtt0"; fi
}

# mqtt_count FROM: what the operator received since line FROM of its output.
mqtt_count() {
	local starts usage stops
	tail -n +"$(($1 + 1))" "$dir/mqtt.out" > "$dir/mqtt.wave"
	starts=$(grep -c '/event {"event":"start"' "$dir/mqtt.wave" || true)
	stops=$(grep -c '/event {"event":"stop"' "$dir/mqtt.wave" || true)
	usage=$(grep -c '/usage {' "$dir/mqtt.wave" || true)
	echo "  MQTT (operator): $(wc -l < "$dir/mqtt.wave") messages: start events $starts, usage $usage, stop events $stops; mosquitto_sub CPU so far $(cpu_s "$msub") s"
	[ "$starts" = "$N" ] && [ "$stops" = "$N" ] || { echo "  FAIL: want $N start and $N stop events"; fail=1; }
}

if [ "$PREFILL" = 1 ] && [ "$CACHE" -gt 0 ]; then wave prefilled; else wave cold; fi
[ "$CACHE" -gt 0 ] && wave cached
echo "  bngbox VmRSS after teardown: $(rss_kib "$daemon") KiB"
# Graceful stop with the parked devices: SIGTERM until the process is gone
# (the kernel deletes each TUN device when its descriptor closes).
say "stop"
t0=$(date +%s.%N)
kill -TERM "$daemon"; wait "$daemon" || { echo "  FAIL: bngbox exited non-zero on SIGTERM"; fail=1; }
daemon=""
echo "  SIGTERM to exit: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s ($CACHE parked devices)"

say "reproduce"
echo "  BENCH_SESSIONS=$N BENCH_HOLD=$HOLD BENCH_ECHO=$ECHO BENCH_UNIT_CACHE=$CACHE${CONC:+ BENCH_CONCURRENCY=$CONC} BENCH_RATE=$RATE BENCH_TIMEOUT=$TIMEOUT BENCH_IPV6=$IPV6 BENCH_PREFILL=$PREFILL BENCH_TELEMETRY=$TELEMETRY BENCH_INTERIM=$INTERIM make bench-system"
[ "$fail" = 0 ] || { echo "bench: FAILED"; tail -20 "$dir/bngbox.log"; exit 1; }
echo "bench: ok"
