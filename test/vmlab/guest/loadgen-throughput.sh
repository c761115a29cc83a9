# Scenario loadgen-throughput: the same 100-session forwarding load through
# bngbox's kernel dataplane, then its userspace dataplane, in one guest.
#
#	sub: bngbox loadgen (TUN mode, lg1…lgN) ─ vsub ══ veth ══ vbng ─ bng: bngbox ─ pppN ─ vup 198.51.100.1
#	     iperf3 -c 198.51.100.2 -B <session address>                                          ║ veth
#	                                                         srv: iperf3 -s ×N ─ vsrv 198.51.100.2
#
# Per dataplane (VMLAB_DATAPLANES, default "kernel userspace"): bngbox
# starts in namespace bng (nothing differs but `dataplane:`), the loadgen
# brings VMLAB_SESSIONS (100) PPPoE sessions up in namespace sub and gives
# each a TUN device lg<i> whose address routes through the session. The
# guest measures bngbox's and the loadgen's CPU with the sessions idle (3 s).
# Then one iperf3 client per session, bound to the session's address, runs
# --bidir (upstream and downstream at once) against its own server in srv
# (port 5200+i), all 100 at once.
# Once every client's three connections are up, and VMLAB_SETTLE (2)
# seconds later, the guest takes a snapshot, waits VMLAB_WINDOW (5) seconds
# and takes another; then clients and servers are killed. A snapshot is
#
#	<uptime>,<vsrv rx bytes>,<rx packets>,<tx bytes>,<tx packets>,
#	<bngbox utime>,<stime>,<loadgen utime>,<stime>,<guest cpu: user nice system idle iowait irq softirq>
#
# (CPU times in clock ticks) and the host computes rates from two. Around
# the snapshots the guest reports bngbox's per-session counters (`show
# sessions columns ifname,ip,state,rx-bytes,tx-bytes,rx-pkts,tx-pkts`, rows
# joined by ";"). Last, the loadgen hangs up (SIGTERM) and the guest reports
# what is left (sessions, pppN) before it stops bngbox.
. /vmlab/lib.sh

n=${VMLAB_SESSIONS:-100}
settle=${VMLAB_SETTLE:-2}
window=${VMLAB_WINDOW:-5}
wait_s=${VMLAB_WAIT:-300}
srvip=198.51.100.2
cli() { bngbox cli --socket /run/bngbox.sock "$@"; }
active() { cli show stat json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"active":\([0-9]*\).*/\1/p' | head -1; }
# pppifs prints the number of ppp<N> devices in bng, and of those the TUN
# devices (userspace dataplane).
pppifs() {
	/sbin/ip netns exec bng sh -c 'p=0 t=0; for d in /sys/class/net/ppp*; do [ -e "$d" ] || continue; p=$((p + 1)); [ -e "$d/tun_flags" ] && t=$((t + 1)); done; echo "$p $t"'
}
sessions() {
	cli show sessions columns ifname,ip,state,rx-bytes,tx-bytes,rx-pkts,tx-pkts |
		awk -F'|' 'NR > 2 { gsub(/ /, ""); printf "%s%s", (NR > 3 ? ";" : ""), $0 }'
}
# listening prints the number of TCP sockets listening in srv.
listening() { ip netns exec srv cat /proc/net/tcp | awk '$4 == "0A"' | wc -l; }
# connected prints the number of established TCP connections in srv: two
# per iperf3 client (control and data). iperf3's own "connected" line sits
# in its stdio buffer until it exits.
connected() { ip netns exec srv cat /proc/net/tcp | awk '$4 == "01"' | wc -l; }
# ticks PID prints utime,stime of PID.
ticks() { awk '{ printf "%s,%s", $14, $15 }' "/proc/$1/stat"; }
snapshot() {
	set -- $(ip -n srv -s link show dev vsrv | awk '/RX:/ { getline; rx = $1 "," $2 } /TX:/ { getline; tx = $1 "," $2 } END { print rx, tx }')
	echo "$(cut -d' ' -f1 /proc/uptime),$1,$2,$(ticks $bpid),$(ticks $lpid),$(awk '/^cpu / { print $2 "," $3 "," $4 "," $5 "," $6 "," $7 "," $8 }' /proc/stat)"
}

for ns in sub bng srv; do
	ip netns add $ns
	ip -n $ns link set lo up
done
ip link add vsub netns sub type veth peer name vbng netns bng
ip link add vsrv netns srv type veth peer name vup netns bng
ip -n sub link set vsub up
ip -n bng link set vbng up
ip -n bng addr add 198.51.100.1/24 dev vup
ip -n bng link set vup up
ip -n srv addr add $srvip/24 dev vsrv
ip -n srv link set vsrv up
ip -n srv route add default via 198.51.100.1
/sbin/ip netns exec bng sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
result "nproc=$(nproc)"
result "mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
result "clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)"

bngbox_users "$n"

for dp in ${VMLAB_DATAPLANES:-kernel userspace}; do
	say "== $dp"
	# One iperf3 server per session (port 5200+i), started before bngbox.
	/sbin/ip netns exec srv sh -c "i=1; while [ \$i -le $n ]; do iperf3 -s -i 0 -B $srvip -p \$((5200 + i)) >/dev/null 2>&1 & echo \$! >>/tmp/spids; i=\$((i + 1)); done; wait" &
	srvpid=$!
	t=0
	until [ "$(listening)" -ge "$n" ] || [ $t -gt 1200 ]; do
		t=$((t + 1))
		sleep 0.1
	done
	result "$dp.servers=$(listening)"
	BNG_LCP_ECHO=30s bngbox_config "$dp" vbng
	bngbox_start bng
	result "$dp.dataplane=$(bngbox_dataplane)"
	t0=$(cut -d' ' -f1 /proc/uptime)
	/sbin/ip netns exec sub bngbox loadgen -i vsub -n "$n" --auth any --tun --hold -1s --timeout 120s -v >/tmp/lg-$dp.log 2>&1 &
	lpid=$!
	t=0
	while [ $t -lt $((wait_s * 2)) ]; do
		[ "$(grep -c '^tun lg[0-9]* .* up' /tmp/lg-$dp.log)" -ge "$n" ] && [ "$(active)" = "$n" ] && break
		kill -0 $lpid 2>/dev/null || break
		t=$((t + 1))
		sleep 0.5
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	result "$dp.up_seconds=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')"
	result "$dp.active=$(active)"
	result "$dp.tuns=$(grep -c '^tun lg[0-9]* .* up' /tmp/lg-$dp.log)"
	set -- $(pppifs)
	result "$dp.ppp_ifaces=$1"
	result "$dp.ppp_tun_ifaces=$2"
	# lg<i> <address>, in session order; client i talks to port 5200+i.
	grep '^tun lg[0-9]* .* up' /tmp/lg-$dp.log | awk '{ print $3 }' >/tmp/addrs
	if [ "$(wc -l </tmp/addrs)" -lt "$n" ]; then
		dumplog /tmp/lg-$dp.log
		dumplog /tmp/bngbox.log
	fi
	# bngbox and loadgen CPU with the sessions up and no traffic.
	sleep 1
	result "$dp.idle0=$(snapshot)"
	sleep 3
	result "$dp.idle1=$(snapshot)"

	# One iperf3 client per session, --bidir: upstream and downstream at
	# once (starting a process costs ~0.3 s here; one round per dataplane).
	rm -f /tmp/c-*.log /tmp/cpids
	result "$dp.sidle=$(sessions)"
	/sbin/ip netns exec sub sh -c "i=0; while read -r a; do i=\$((i + 1)); iperf3 -c $srvip -p \$((5200 + i)) -B \$a -t 600 -i 0 --bidir >/tmp/c-\$i.log 2>&1 & echo \$! >>/tmp/cpids; done </tmp/addrs; wait" &
	clipid=$!
	# Every client's control and two data connections are up (at most
	# VMLAB_CONNECT_WAIT seconds; an iteration takes seconds at full load).
	until=$(awk -v u="$(cut -d' ' -f1 /proc/uptime)" -v w="${VMLAB_CONNECT_WAIT:-120}" 'BEGIN { printf "%d", u + w }')
	while [ "$(connected)" -lt $((3 * n)) ] && [ "$(cut -d. -f1 /proc/uptime)" -lt "$until" ]; do
		sleep 0.5
	done
	result "$dp.connected=$(connected)"
	sleep "$settle"
	result "$dp.s0=$(sessions)"
	result "$dp.w0=$(snapshot)"
	sleep "$window"
	result "$dp.w1=$(snapshot)"
	result "$dp.s1=$(sessions)"
	alive=0
	for p in $(cat /tmp/cpids); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	result "$dp.alive=$alive"
	if [ "$(connected)" -lt $((3 * n)) ]; then
		for f in $(grep -l 'error' /tmp/c-*.log | head -3); do dumplog "$f"; done
	fi
	# Both ends go: each side's closed sockets answer the other's with a
	# reset, so no send buffer is left to flush as an orphan (through the
	# next dataplane's sessions, which get the same addresses).
	kill -KILL $(cat /tmp/cpids /tmp/spids) 2>/dev/null
	waitgone $clipid 30 || say "$dp: iperf3 clients still running"
	waitgone $srvpid 30 || say "$dp: iperf3 servers still running"
	rm -f /tmp/spids
	sleep 2

	# Hang up every subscriber (LCP Terminate, PADT).
	kill -TERM $lpid
	waitgone $lpid 60 || result "$dp.lg_stop=timeout"
	wait $lpid
	result "$dp.lg_rc=$?"
	result "$dp.lg_report=$(grep 'sessions up' /tmp/lg-$dp.log | tr ' ' _)"
	t=0
	while [ $t -lt $((wait_s * 2)) ]; do
		[ "$(cli show sessions json | grep -c '"state"')" = 0 ] && [ "$(pppifs)" = "0 0" ] && break
		t=$((t + 1))
		sleep 0.5
	done
	sleep 1
	result "$dp.sessions_after=$(cli show sessions json | grep -c '"state"')"
	set -- $(pppifs)
	result "$dp.ppp_ifaces_after=$1"
	kill -TERM $bpid
	waitgone $bpid 30 || result "$dp.daemon_stop=timeout"
	grep -E 'level=(WARN|ERROR)' /tmp/bngbox.log | sed "s/^/VMLAB-LOG $dp: /"
	mv /tmp/bngbox.log /tmp/bngbox-$dp.log
	mv /tmp/acct.jsonl /tmp/acct-$dp.jsonl 2>/dev/null
done
exit 0
