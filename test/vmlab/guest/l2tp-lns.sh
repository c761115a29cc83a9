# Scenario l2tp-lns: bngbox is the LNS in the guest's root namespace
# (dataplane VMLAB_DATAPLANE: kernel or userspace); a real LAC, xl2tpd with
# pppd and its pppol2tp plugin (the kernel's l2tp_ppp), runs in namespace
# "lac" behind a veth:
#
#	lac: pppd ppp0 ─ xl2tpd ─ vlac 100.126.0.2 ══ veth ══ vlns 100.126.0.1 ─ bngbox LNS :1701 ─ pppN
#
# The tunnel has a secret (challenge both ways). Once ppp0 is up in the
# LAC namespace, the guest pings 100.64.0.1 through the session (IPv4 and
# IPv6 link-local), runs iperf3 both ways through it, reports
# what `bngbox cli show sessions json`, `show tunnels json` and the kernel
# (ip l2tp, /sys/class/net) say, then hangs up pppd (LCP Terminate, CDN)
# and closes the tunnel from xl2tpd (StopCCN), reporting what is left after
# each. Last, two bngbox loadgens as LACs open a tunnel with 3 sessions
# each (several kernel sessions per kernel tunnel) and hang them up, and
# one loadgen opens two tunnels from one UDP address.
. /vmlab/lib.sh

dp=${VMLAB_DATAPLANE:-kernel}
pings=${VMLAB_PINGS:-5}
cli() { bngbox cli --socket /run/bngbox.sock "$@"; }
lac() { ip netns exec lac "$@"; }
ktunnels() { ip l2tp show tunnel 2>/dev/null | grep -c '^Tunnel'; }
ksessions() { ip l2tp show session 2>/dev/null | grep -c '^Session'; }

ip link set eth0 up
ip netns add lac
ip link add vlns type veth peer name vlac
ip link set vlac netns lac
ip addr add 100.126.0.1/24 dev vlns
ip link set vlns up
ip -n lac link set lo up
ip -n lac addr add 100.126.0.2/24 dev vlac
ip -n lac link set vlac up

mkdir -p /etc/bngbox
{
	echo "users:"
	echo "  - {name: user1, password: secret}"
	for i in 1 2 3; do echo "  - {name: a$i, password: secret}"; echo "  - {name: b$i, password: secret}"; done
	for i in 1 2; do echo "  - {name: c$i, password: secret}"; done
} >/etc/bngbox/users.yaml
bngbox_config "$dp" eth0
cat >>/etc/bngbox/bngbox.yaml <<CFG
l2tp:
  enabled: true
  listen: ":1701"
  hostname: lns1
  require-auth: true
  secrets: [{peer: 100.126.0.2, secret: s3cret}]
CFG
bngbox_start
result "dataplane=$(bngbox_dataplane)"

xl2tpd_config 100.126.0.1
t0=$(cut -d' ' -f1 /proc/uptime)
lac xl2tpd -D -c /etc/xl2tpd/xl2tpd.conf -s /etc/xl2tpd/l2tp-secrets -p /run/xl2tpd.pid >/tmp/xl2tpd.log 2>&1 &
xpid=$!

# ppp0 in the LAC namespace with an address and the LNS as its peer.
up=0
t=0
while [ $t -lt ${VMLAB_WAIT:-900} ]; do
	a=$(lac ip -4 -o addr show dev ppp0 2>/dev/null | awk '{print $4 "_" $6}')
	case $a in *_100.64.0.1/32) up=1; break ;; esac
	kill -0 $xpid 2>/dev/null || break
	t=$((t + 1))
	sleep 0.1
done
t1=$(cut -d' ' -f1 /proc/uptime)
result "lac_up=$up"
result "lac_up_seconds=$(echo "$t0 $t1" | awk '{printf "%.2f", $2-$1}')"
result "lac_addr=$a"
if [ $up != 1 ]; then
	dumplog /tmp/xl2tpd.log
	dumplog /tmp/pppd-l2tp.log
	dumplog /tmp/bngbox.log
	exit 1
fi
result "ping_rx=$(lac ping -c "$pings" -W 5 100.64.0.1 | grep -o '[0-9]* packets received' | cut -d' ' -f1)"

# IPv6CP: pppd puts its link-local address on ppp0, bngbox the pair on pppN.
t=0
until [ -n "$(lac ip -6 -o addr show dev ppp0 scope link)" ] || [ $t -gt 300 ]; do
	t=$((t + 1))
	sleep 0.1
done
result "lac_addr6=$(lac ip -6 -o addr show dev ppp0 scope link | awk '{print $4 "_" $6}')"
for d in /sys/class/net/ppp*; do
	[ -e "$d" ] || continue
	dev=$(basename $d)
	a6=$(ip -6 -o addr show dev $dev scope link | awk '{print $4 "_" $6}')
	result "$dev.addr6=$a6"
	ll=${a6%%_*} # kernel: fe80::L_fe80::P/64; userspace: fe80::L/128_link
	ll=${ll%%/*}
	[ -n "$ll" ] && result "ping6_rx=$(lac ping6 -c 3 -W 5 -I ppp0 "$ll%ppp0" | grep -o '[0-9]* packets received' | cut -d' ' -f1)"
done

# iperf3 through the session, LAC → LNS (upstream) then LNS → LAC (-R).
iperf3 -s -B 100.64.0.1 >/tmp/iperf3-s.log 2>&1 &
ipid=$!
for dir in up down; do
	flag=
	[ $dir = down ] && flag=-R
	n=0
	while :; do
		lac iperf3 -c 100.64.0.1 -t "${VMLAB_IPERF_SECONDS:-3}" $flag -J >/tmp/iperf3-$dir.json 2>&1
		grep -q '"error"' /tmp/iperf3-$dir.json || break
		n=$((n + 1))
		[ $n -ge 10 ] && break
		sleep 0.5
	done
	# The summary only: start and end sections, intervals dropped.
	result "iperf3_$dir=$(tr -d ' \t\n' </tmp/iperf3-$dir.json | sed 's/"intervals":\[.*\],"end"/"end"/')"
done
kill $ipid

result "sessions=$(cli show sessions json | tr -d ' \n')"
result "tunnels=$(cli show tunnels json | tr -d ' \n')"
result "kernel_tunnels=$(ktunnels)"
result "kernel_sessions=$(ksessions)"
ip l2tp show tunnel | sed 's/^/VMLAB-LOG ip l2tp: /'
result "ppp_ifaces=$(ls /sys/class/net | grep '^ppp' | paste -sd, -)"
for d in /sys/class/net/ppp*; do
	[ -e "$d" ] || continue
	dev=$(basename $d)
	result "$dev.mtu=$(cat $d/mtu)"
	result "$dev.addr=$(ip -4 -o addr show dev $dev | awk '{print $4 "_" $6}')"
	result "$dev.kernel_rx_packets=$(cat $d/statistics/rx_packets)"
	result "$dev.kernel_tx_packets=$(cat $d/statistics/tx_packets)"
done

# Hang up: pppd sends LCP Terminate-Request, the call ends with CDN.
kill -TERM "$(pidof pppd)"
t=0
while [ $t -lt 600 ]; do
	cli show sessions json | grep -q '"state"' || break
	t=$((t + 1))
	sleep 0.1
done
sleep 2
result "sessions_after_cdn=$(cli show sessions json | grep -c '"state"')"
result "ppp_ifaces_after_cdn=$(ls /sys/class/net | grep '^ppp' | paste -sd, -)"
result "kernel_tunnels_after_cdn=$(ktunnels)"
result "kernel_sessions_after_cdn=$(ksessions)"
result "tunnels_after_cdn=$(cli show tunnels json | tr -d ' \n')"

# Close the tunnel from the LAC: xl2tpd sends StopCCN.
xl2tpd-control disconnect-lac lns1 2>&1 | sed 's/^/VMLAB-LOG xl2tpd-control: /'
t=0
while [ $t -lt 300 ]; do
	cli show tunnels json | grep -q '"established"' || break
	t=$((t + 1))
	sleep 0.1
done
result "tunnels_after_stopccn=$(cli show tunnels json | tr -d ' \n')"
result "kernel_tunnels_after_stopccn=$(ktunnels)"
result "stopccn_logged=$(grep 'tunnel down' /tmp/bngbox.log | grep -vc 'shutting down')"
result "acct_stops=$(grep -c '"type":"stop"' /tmp/acct.jsonl)"
kill -TERM $xpid
waitgone $xpid 20 || result "xl2tpd_stop=timeout"

# Several sessions per tunnel: two bngbox loadgens as LACs (userspace,
# each its own UDP port) in the LAC namespace, 1 tunnel x 3 sessions each,
# CDN per session at the end.
active() { cli show sessions json | tr -d ' \n' | grep -o '"state":"active"' | wc -l; }
for g in a b; do
	lac bngbox loadgen --l2tp 100.126.0.1 --tunnels 1 -n 3 --user "$g%d" --secret s3cret --auth chap \
		--ping 100.64.0.1 --ping-count 3 --hold 8s --timeout 120s -v >/tmp/loadgen-$g.log 2>&1 &
	eval "lpid_$g=\$!"
done
t=0
while [ $t -lt 1200 ]; do
	[ "$(active)" -ge 6 ] && break
	kill -0 $lpid_a 2>/dev/null || break
	t=$((t + 1))
	sleep 0.1
done
result "lg_active=$(active)"
result "lg_tunnels=$(cli show tunnels json | tr -d ' \n' | grep -o '"state":"established"' | wc -l)"
result "lg_kernel_tunnels=$(ktunnels)"
result "lg_kernel_sessions=$(ksessions)"
result "lg_ppp_ifaces=$(ls /sys/class/net | grep -c '^ppp')"
for g in a b; do
	eval "wait \$lpid_$g"
	result "lg_${g}_rc=$?"
	result "lg_${g}_report=$(grep 'sessions up' /tmp/loadgen-$g.log | tr ' ' _)"
	grep -q 'sessions up' /tmp/loadgen-$g.log || dumplog /tmp/loadgen-$g.log
done
t=0
while [ $t -lt 300 ]; do
	cli show sessions json | grep -q '"state"' || break
	t=$((t + 1))
	sleep 0.1
done
sleep 1
result "lg_sessions_after=$(cli show sessions json | grep -c '"state"')"
result "lg_kernel_tunnels_after=$(ktunnels)"
result "lg_kernel_sessions_after=$(ksessions)"
result "lg_ppp_ifaces_after=$(ls /sys/class/net | grep '^ppp' | paste -sd, -)"

# Two tunnels from one LAC UDP address (one loadgen, --tunnels 2): the
# kernel dataplane refuses the second tunnel's session (the kernel cannot
# tell the tunnels apart), the userspace one serves both.
lac bngbox loadgen --l2tp 100.126.0.1 --tunnels 2 -n 2 --user "c%d" --secret s3cret --auth chap \
	--ping 100.64.0.1 --timeout 60s -v >/tmp/loadgen-c.log 2>&1
result "lg_c_report=$(grep 'sessions up' /tmp/loadgen-c.log | tr ' ' _)"
result "lg_c_refused=$(grep -c 'cannot tell two tunnels' /tmp/bngbox.log)"
kill -TERM $bpid
waitgone $bpid 20 || result "daemon_stop=timeout"
grep -E 'level=(WARN|ERROR)' /tmp/bngbox.log | sed 's/^/VMLAB-LOG /'
grep -E 'kernel L2TP|tunnel (up|down)|call (up|down)' /tmp/bngbox.log | sed 's/^/VMLAB-LOG /'
grep -iE 'error|fail|warn' /tmp/xl2tpd.log | sed 's/^/VMLAB-LOG xl2tpd: /'
exit 0
