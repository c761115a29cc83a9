#!/usr/bin/env bash
# make bench-l2tp: bngbox LNS vs Debian l2tpns LNS, same LAC, same RADIUS,
# same run (issue 4).
#
#   bbl2c-<pid>-sub                    bbl2c-<pid>-lns                         bbl2c-<pid>-inet
#   loadgen --l2tp (LAC)  sub0 ─veth─ lan0 10.255.0.1  bngbox LNS :1701  up0 ─veth─ inet0 198.51.100.2
#   10.255.0.2                              10.255.0.3  l2tpns LNS :1701        iperf3 -s
#                                           127.0.0.1   FreeRADIUS (auth + acct for both)
#
# For each LNS in turn (bngbox first, then l2tpns; the other one idles):
#   1. setup: `bngbox loadgen --l2tp` opens BENCH_TUNNELS tunnels (challenge
#      authentication) and places BENCH_SESSIONS calls; each runs LCP, CHAP
#      (checked by FreeRADIUS), IPCP, then one ping through the LNS to inet.
#      Reported: the loadgen report (setups/s = sessions up / first ICRQ to
#      last session up; tunnels are dialled before the clock starts),
#      p50/p99, pings, CPU of the LNS process per session.
#   2. throughput: one call with a TUN device in the LAC namespace
#      (loadgen --tun); iperf3 TCP for BENCH_IPERF_TIME seconds from inet
#      to the session (down) and from the session to inet (up).
# The loadgen terminates PPP in userspace at the LAC side too, so the
# throughput is that of the whole chain, and the same LAC for both LNSes.
#
# Both LNSes run IPv4 only (l2tpns has no IPv6CP; bngbox with ppp.ipv6:
# false and IPv6 disabled on its new devices, as BENCH_IPV6=0 in
# bench/sessions.sh). The veth carries MTU 9000 so that L2TP over UDP does
# not fragment 1492-byte PPP frames for either LNS.
#
# Knobs (environment): BENCH_SESSIONS (1000), BENCH_TUNNELS (10),
# BENCH_CONCURRENCY (200), BENCH_AUTH (chap), BENCH_TIMEOUT (120s),
# BENCH_IPERF_TIME (5), BENCH_ONLY (bngbox | l2tpns: run one side),
# BENCH_KEEP=1 keeps the work directory (logs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${BNGBOX_BIN:-$(dirname "$0")/../bin/bngbox}
BIN=$(readlink -f "$BIN")
N=${BENCH_SESSIONS:-1000}
TUNNELS=${BENCH_TUNNELS:-10}
CONC=${BENCH_CONCURRENCY:-200}
AUTH=${BENCH_AUTH:-chap}
TIMEOUT=${BENCH_TIMEOUT:-120s}
IPERF_T=${BENCH_IPERF_TIME:-5}
ONLY=${BENCH_ONLY:-}
SECRET=s3cret
P=bbl2c-$$
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, TUN devices)"; exit 1; }
[ -x "$BIN" ] || { echo "bench: $BIN not built (run make build)"; exit 1; }
for tool in l2tpns freeradius iperf3 unshare setsid; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required (apt-get install l2tpns freeradius iperf3)"; exit 1; }
done

dir=$(mktemp -d /tmp/bbl2c.XXXXXX)
chmod 755 "$dir"
pids=()
lg=""
cleanup() {
	set +e
	[ -n "$lg" ] && kill "$lg" 2>/dev/null && wait "$lg" 2>/dev/null
	# Every process we started, by PID; l2tpns runs in its own session
	# (setsid) because it signals its whole process group on exit.
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for ns in sub lns inet; do ip netns del "$P-$ns" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

say() { printf '\n== %s\n' "$*"; }
# x runs in a namespace; background jobs use `ip netns exec` directly so
# that $! is the process itself (ip netns exec execs it), not a subshell.
x() { ip netns exec "$@"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"; }
# rcvbuf_errs NS: UDP datagrams dropped for a full socket receive buffer
# in that namespace (/proc/net/snmp Udp RcvbufErrors).
rcvbuf_errs() { x "$P-$1" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp; }
bngstat() { "$BIN" cli --socket "$dir/cli.sock" show stat json | tr -d ' \n'; }
# bngdrops prints bngbox's non-zero drop counters (show stat json).
bngdrops() { bngstat | sed -n 's/.*"drops":{\([^}]*\)}.*/\1/p' | tr ',' '\n' | grep -v ':0$' | tr '\n' ' '; }
waitfor() { # waitfor FILE STRING SECONDS
	for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "bench: '$2' not in $1 after $3 s"; tail -20 "$1"; return 1
}

say "machine"
echo "  $(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "  bngbox $("$BIN" version 2>/dev/null | head -1), $(dpkg-query -W -f '${Package} ${Version}' l2tpns 2>/dev/null), $(dpkg-query -W -f '${Package} ${Version}' freeradius 2>/dev/null)"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  $N sessions over $TUNNELS tunnels, concurrency $CONC, $AUTH, iperf3 ${IPERF_T}s"

for ns in sub lns inet; do ip netns add "$P-$ns"; x "$P-$ns" ip link set lo up; done
veth() { # veth NS_A DEV_A NS_B DEV_B
	ip link add "${P}a" type veth peer name "${P}b"
	ip link set "${P}a" netns "$P-$1"; ip link set "${P}b" netns "$P-$3"
	x "$P-$1" ip link set "${P}a" name "$2"; x "$P-$3" ip link set "${P}b" name "$4"
	x "$P-$1" ip link set "$2" up; x "$P-$3" ip link set "$4" up
}
veth sub sub0 lns lan0
veth lns up0 inet inet0
x "$P-sub" ip link set sub0 mtu 9000; x "$P-lns" ip link set lan0 mtu 9000
x "$P-sub" ip addr add 10.255.0.2/24 dev sub0
x "$P-lns" ip addr add 10.255.0.1/24 dev lan0
x "$P-lns" ip addr add 10.255.0.3/24 dev lan0
x "$P-lns" ip addr add 198.51.100.1/24 dev up0
x "$P-inet" ip addr add 198.51.100.2/24 dev inet0
x "$P-inet" ip route add 100.64.0.0/16 via 198.51.100.1 # bngbox pool
x "$P-inet" ip route add 100.66.0.0/16 via 198.51.100.1 # l2tpns pool
x "$P-lns" sysctl -qw net.ipv4.ip_forward=1
x "$P-lns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
# l2tpns needs a cluster interface with an IPv4 address; bngbox needs a
# PPPoE access interface (unused here).
x "$P-lns" ip link add clu0 type veth peer name clu1
x "$P-lns" ip addr add 169.254.77.1/30 dev clu0
x "$P-lns" ip link add acc0 type veth peer name acc1
for d in clu0 clu1 acc0 acc1; do x "$P-lns" ip link set "$d" up; done

say "FreeRADIUS"
R=$dir/radius
freeradius_conf "$R" testing123
printf 'DEFAULT Cleartext-Password := "secret"\n\tService-Type = Framed-User, Framed-Protocol = PPP\n' > "$R/users"
ip netns exec "$P-lns" freeradius -f -d "$R" -l stdout > "$dir/radius.log" 2>&1 &
pids+=($!)
waitfor "$dir/radius.log" "Ready to process requests" 20

say "bngbox LNS (10.255.0.1:1701)"
cat > "$dir/bngbox.yaml" <<EOF
log: {level: warn}
dataplane: userspace
nas: {identifier: bngbox-bench, ip: 10.255.0.1}
pppoe: {interfaces: [{name: acc0, vlans: [untagged]}]}
ppp: {auth: [chap, pap], lcp-echo-interval: 10s, ipv6: false}
pools: [{name: default, range: 100.64.0.0/16}]
radius:
  auth-servers: [{address: "127.0.0.1:1812", secret: testing123}]
  acct-servers: [{address: "127.0.0.1:1813", secret: testing123}]
  spool-path: $dir/spool.db
auth: {backend: radius}
accounting: {backend: radius, interim-interval: 0s}
cli: {socket: $dir/cli.sock}
l2tp:
  enabled: true
  listen: 10.255.0.1:1701
  hostname: bngbox
  require-auth: true
  secrets: [{peer: 10.255.0.2, secret: $SECRET}]
EOF
"$BIN" config check -c "$dir/bngbox.yaml" >/dev/null
ip netns exec "$P-lns" "$BIN" run -c "$dir/bngbox.yaml" > "$dir/bngbox.log" 2>&1 &
bng=$!
pids+=("$bng")
for _ in $(seq 100); do "$BIN" cli --socket "$dir/cli.sock" show stat >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN" cli --socket "$dir/cli.sock" show stat >/dev/null || { cat "$dir/bngbox.log"; exit 1; }
echo "  pid $bng"

say "l2tpns LNS (10.255.0.3:1701)"
E=$dir/l2tpns-etc
mkdir -p "$E"
cat > "$E/startup-config" <<EOF
set debug 1
set log_file "$dir/l2tpns.log"
set pid_file "$dir/l2tpns.pid"
set l2tp_secret "$SECRET"
set primary_dns 100.66.255.1
set primary_radius 127.0.0.1
set primary_radius_port 1812
set radius_secret "testing123"
set radius_authtypes "chap,pap"
set radius_accounting yes
set radius_interim 3600
set allow_duplicate_users yes
set bind_address 10.255.0.3
set iftun_address 100.66.255.254
set peer_address 100.66.255.254
set cli_bind_address 127.0.0.1
set cluster_interface "clu0"
set cluster_hb_timeout 20
set send_garp no
set echo_timeout 10
EOF
echo 100.66.0.0/20 > "$E/ip_pool"
echo admin:admin > "$E/users"
# The paths /etc/l2tpns/* are hardcoded: bind-mount ours in a private mount
# namespace. setsid: l2tpns signals its process group when it exits.
setsid ip netns exec "$P-lns" unshare -m --propagation private \
	sh -c "mount --bind $E /etc/l2tpns && exec /usr/sbin/l2tpns -c /etc/l2tpns/startup-config" > "$dir/l2tpns.out" 2>&1 &
l2n=$!
pids+=("$l2n")
waitfor "$dir/l2tpns.log" "I am declaring myself the master" 30
echo "  pid $l2n"

results=()
# run_lns NAME ADDR PID POOL: setup wave, then throughput.
run_lns() {
	local name=$1 addr=$2 pid=$3 cpu0 cpu1 rep ip down up
	say "$name: setup, $N sessions over $TUNNELS tunnels"
	echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	cpu0=$(cpu_s "$pid")
	local lns0 sub0
	lns0=$(rcvbuf_errs lns) sub0=$(rcvbuf_errs sub)
	ip netns exec "$P-sub" "$BIN" loadgen --l2tp "$addr" --secret "$SECRET" --tunnels "$TUNNELS" -n "$N" --auth "$AUTH" \
		--ping 198.51.100.2 --hold 3s --timeout "$TIMEOUT" --concurrency "$CONC" > "$dir/$name-setup.out" 2>&1 &
	lg=$!
	if [ "$name" = bngbox ]; then
		while kill -0 "$lg" 2>/dev/null && [ "$(bngstat | sed -n 's/.*"active":\([0-9]*\).*/\1/p')" != "$N" ]; do sleep 0.1; done
		echo "  bngbox drops once every session is active: $(bngdrops)"
	fi
	wait "$lg" || true
	lg=""
	cpu1=$(cpu_s "$pid")
	rep=$(grep 'sessions up:' "$dir/$name-setup.out" || tail -3 "$dir/$name-setup.out")
	echo "  $rep"
	echo "  UDP receive-buffer drops during setup: LNS namespace $(($(rcvbuf_errs lns) - lns0)), LAC namespace $(($(rcvbuf_errs sub) - sub0))"
	[ "$name" = bngbox ] && echo "  bngbox drops after the teardown: $(bngdrops)"
	echo "  $name CPU: $(awk -v a="$cpu0" -v b="$cpu1" -v n="$N" 'BEGIN{printf "%.2f s, %.2f ms/session", b-a, (b-a)*1000/n}') (setup, ping, hold 3 s, teardown)"
	sleep 3 # let the teardown finish

	say "$name: throughput through one session (iperf3 -t $IPERF_T)"
	ip netns exec "$P-sub" "$BIN" loadgen --l2tp "$addr" --secret "$SECRET" -n 1 --user tput%04d --tun --hold -1s \
		--timeout 30s > "$dir/$name-tun.out" 2>&1 &
	lg=$!
	ip=""
	for _ in $(seq 300); do
		ip=$(sed -n 's/^tun lg1 \([0-9.]*\) up$/\1/p' "$dir/$name-tun.out")
		[ -n "$ip" ] && break
		kill -0 "$lg" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$ip" ] || { echo "  FAIL: no TUN session"; cat "$dir/$name-tun.out"; return 1; }
	down=$(iperf "$ip" -R) up=$(iperf "$ip" "")
	echo "  session $ip: down (inet → subscriber) $down Mbit/s, up (subscriber → inet) $up Mbit/s"
	kill -INT "$lg"; wait "$lg" || true
	lg=""
	results+=("$(printf '%-7s | %s | %s ms | down %s / up %s Mbit/s' "$name" "$rep" \
		"$(awk -v a="$cpu0" -v b="$cpu1" -v n="$N" 'BEGIN{printf "%.2f", (b-a)*1000/n}')" "$down" "$up")")
}

ip netns exec "$P-inet" iperf3 -s -B 198.51.100.2 > "$dir/iperf3-server.log" 2>&1 &
pids+=($!)
sleep 0.5
# iperf IP [-R]: Mbit/s received, retrying while the server refuses.
iperf() {
	local out
	for _ in 1 2 3 4 5; do
		out=$(x "$P-sub" iperf3 -c 198.51.100.2 -B "$1" $2 -t "$IPERF_T" -O 1 -J 2>&1) || true
		if echo "$out" | grep -q '"sum_received"'; then
			echo "$out" | awk '/"sum_received"/ {f=1} f && /"bits_per_second"/ {gsub(/[,]/, "", $2); printf "%.0f", $2/1e6; exit}'
			return
		fi
		sleep 1
	done
	echo "failed"
}

[ "$ONLY" = l2tpns ] || run_lns bngbox 10.255.0.1 "$bng" 100.64.0.0/16
[ "$ONLY" = bngbox ] || run_lns l2tpns 10.255.0.3 "$(cat "$dir/l2tpns.pid" 2>/dev/null || echo "$l2n")" 100.66.0.0/20

say "summary"
for r in "${results[@]}"; do echo "  $r"; done
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "reproduce"
echo "  BENCH_SESSIONS=$N BENCH_TUNNELS=$TUNNELS BENCH_CONCURRENCY=$CONC BENCH_AUTH=$AUTH BENCH_IPERF_TIME=$IPERF_T make bench-l2tp"
