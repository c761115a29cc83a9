# Scenario kernel-pppd: bngbox in the guest's root namespace with the
# kernel dataplane and the shaper in police mode; the real pppd with its
# PPPoE plugin is the subscriber in namespace "sub" behind a veth:
#
#	sub: pppd ppp0 ─ vsub ══ veth ══ vbng ─ bngbox (kernel PPPoE) ─ pppN
#	     iperf3 -c -B <ppp0 address>              iperf3 -s -B 100.64.0.1
#
# The user has rates 10M/5M in the local users file: tbf 10 Mbit/s on
# pppN's egress (downstream), ingress police 5 Mbit/s (upstream), buckets
# of the shaper's defaults (10 ms tbf, 300 ms police), VMLAB_BURST_TIME
# for both or VMLAB_POLICE_BURST_TIME for the policer. The guest pings
# through the session, runs iperf3 -t VMLAB_IPERF_SECONDS -O 1 in each
# direction VMLAB_IPERF_RUNS times and UDP upstream at VMLAB_UDP_RATE once
# (the host judges the rates) and reports tc's view of pppN. Then radclient sends a CoA-Request
# (Mikrotik-Rate-Limit 1M/2M: 2 Mbit/s down, 1 up) to bngbox's DAE
# listener on 127.0.0.1:3799 and the session is measured again, then
# `bngbox cli shaper restore user1` and once more. Finally pppd hangs up
# and the guest reports what is left; a second session is ended by
# stopping bngbox.
. /vmlab/lib.sh

cli() { bngbox cli --socket /run/bngbox.sock "$@"; }
sub() { ip netns exec sub "$@"; }
pppifs() { ls /sys/class/net | grep '^ppp' | paste -sd, -; }
runs=${VMLAB_IPERF_RUNS:-2}
# tcpext prints the TCP loss-recovery counters of /proc/net/netstat.
tcpext() {
	awk '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 2; i <= NF; i++) if (n[i] ~ /^(TCPTimeouts|TCPLossProbes|TCPFastRetrans|TCPSlowStartRetrans|TCPLostRetransmit|TCPSackRecovery|TCPRenoRecovery)$/) printf "%s=%s ", n[i], $i }'
}
secs=${VMLAB_IPERF_SECONDS:-4}

ip netns add sub
ip link add vbng type veth peer name vsub
ip link set vsub netns sub
ip link set vbng up
ip -n sub link set lo up
ip -n sub link set vsub up

mkdir -p /etc/bngbox
echo "users:
  - {name: user1, password: secret, rates: ${VMLAB_RATES:-10M/5M}}" >/etc/bngbox/users.yaml
bngbox_config kernel vbng
cat >>/etc/bngbox/bngbox.yaml <<CFG
radius: {dae: {listen: "127.0.0.1:3799", clients: [{address: 127.0.0.1, secret: coasecret}]}}
shaper: {enabled: true, upstream: police${VMLAB_BURST_TIME:+, burst-time: $VMLAB_BURST_TIME, police-burst-time: $VMLAB_BURST_TIME}${VMLAB_POLICE_BURST_TIME:+, police-burst-time: $VMLAB_POLICE_BURST_TIME}}
CFG
# iperf1 ARGS... runs one iperf3 client in sub (retrying while the server
# refuses) and leaves its JSON in /tmp/iperf3.json.
iperf1() {
	n=0
	while :; do
		sub iperf3 -c 100.64.0.1 -B "$addr" -t "$secs" -O 1 -J "$@" >/tmp/iperf3.json 2>&1
		grep -q '"error"' /tmp/iperf3.json || return 0
		n=$((n + 1))
		[ $n -ge 10 ] && return 1
		sleep 0.5
	done
}
# measure STEP runs TCP up, then down (-R), VMLAB_IPERF_RUNS times each and
# reports the summaries as iperf3_DIR[_STEP].I (start and end sections,
# intervals dropped), with the policer's counters and sub's TCP counters.
measure() {
	for dir in up down; do
		flag=
		[ $dir = down ] && flag=-R
		i=1
		while [ $i -le "$runs" ]; do
			iperf1 $flag
			result "iperf3_$dir${1:+_$1}.$i=$(tr -d ' \t\n' </tmp/iperf3.json | sed 's/"intervals":\[.*\],"end"/"end"/')"
			tc -s filter show dev "$dev" ingress | grep -E 'police|Sent' | sed "s/^/VMLAB-LOG after $dir${1:+_$1}.$i: /"
			say "after $dir${1:+_$1}.$i: sub TcpExt $(sub cat /proc/net/netstat | tcpext)"
			i=$((i + 1))
		done
	done
}
# waitpolice DEV waits for a police filter on DEV's ingress.
waitpolice() {
	t=0
	until tc filter show dev "$1" ingress 2>/dev/null | grep -q police; do
		t=$((t + 1))
		[ $t -gt 300 ] && return 1
		sleep 0.1
	done
}
# waitrates DEV DOWN UP waits until DEV's tbf has rate DOWN and its
# policer rate UP (tc's notation: 2Mbit): a live change is applied by the
# shaper goroutine after the session recorded it.
waitrates() {
	t=0
	until tc qdisc show dev "$1" | grep -q "tbf .*rate $2 " && tc filter show dev "$1" ingress | grep -q "police .*rate $3 "; do
		t=$((t + 1))
		[ $t -gt 300 ] && return 1
		sleep 0.1
	done
}
# step NAME DOWN UP: after a live change to DOWN/UP, report the session
# (sessions_NAME), tc's view once it shows the new rates, measure, then
# report the session again (sessions_NAME_after: its counters), whether
# pppd is still up and which pppN exist.
step() {
	waitrates "$dev" "$2" "$3" || say "$dev not at $2/$3 after 30 s"
	result "sessions_$1=$(cli show sessions json | tr -d ' \n')"
	result "filter_$1=$(tc filter show dev "$dev" ingress | tr '\n\t' '| ')"
	result "qdisc_$1=$(tc qdisc show dev "$dev" | tr '\n\t' '| ')"
	measure "$1"
	result "sessions_$1_after=$(cli show sessions json | tr -d ' \n')"
	kill -0 "$(head -1 /run/ppp0.pid)" 2>/dev/null && result "pppd_up_$1=1"
	result "sub_ppp0_$1=$(sub ip -4 -o addr show dev ppp0 | awk '{print $4}')"
	result "ppp_ifaces_$1=$(pppifs)"
}
# dial UNIT LOG runs pppd in sub until IPCP is up (updetach).
dial() {
	sub pppd plugin pppoe.so nic-vsub unit "$1" user user1 password secret \
		noauth refuse-eap refuse-mschap refuse-mschap-v2 \
		noipdefault nodefaultroute maxfail 1 mtu 1492 mru 1492 \
		noccp novj nodeflate nobsdcomp noipv6 lcp-echo-interval 0 \
		debug logfile "$2" updetach
}

bngbox_start
result "dataplane=$(bngbox_dataplane)"
result "shaper=$(grep 'shaper enabled' /tmp/bngbox.log | grep -o 'upstream=[a-z]*' | head -1 | cut -d= -f2)"

dial 0 /tmp/pppd.log
rc=$?
result "pppd_rc=$rc"
if [ $rc -ne 0 ]; then
	dumplog /tmp/pppd.log
	dumplog /tmp/bngbox.log
	exit 1
fi
set -- $(sub ip -4 -o addr show dev ppp0 | awk '{print $4, $6}')
addr=$1
result "sub_addr=${1}_${2}"
result "ppp_ifaces=$(pppifs)"
dev=$(pppifs)
result "ping_rx=$(sub ping -c 5 -W 5 100.64.0.1 | grep -o '[0-9]* packets received' | cut -d' ' -f1)"

# The first shaping is applied shortly after the session is up.
waitpolice "$dev" || say "no police filter on $dev after 30 s"
result "sessions=$(cli show sessions json | tr -d ' \n')"
tc -s qdisc show dev "$dev" | sed 's/^/VMLAB-LOG tc qdisc before: /'

iperf3 -s -B 100.64.0.1 >/tmp/iperf3-s.log 2>&1 &
ipid=$!
measure ""
# UDP upstream at more than the police rate: what the policer lets
# through without TCP's reaction to its drops.
if [ -n "${VMLAB_UDP_RATE:-}" ]; then
	sub iperf3 -c 100.64.0.1 -B "$addr" -u -b "$VMLAB_UDP_RATE" -l 1400 -t "$secs" -O 1 -J >/tmp/iperf3.json 2>&1
	result "iperf3_udp=$(tr -d ' \t\n' </tmp/iperf3.json | sed 's/"intervals":\[.*\],"end"/"end"/')"
fi
result "filter=$(tc -s filter show dev "$dev" ingress | tr '\n\t' '| ')"
result "qdisc=$(tc -s qdisc show dev "$dev" | tr '\n\t' '| ')"

# CoA-Request from radclient: Mikrotik-Rate-Limit rx/tx is the router's
# view, so 1M/2M is 1 Mbit/s up, 2 down.
sid=$(cli show sessions json | tr -d ' \n' | grep -o '"id":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)
result "sessions_pre_coa=$(cli show sessions json | tr -d ' \n')"
echo "User-Name = \"user1\", Acct-Session-Id = \"$sid\", Mikrotik-Rate-Limit = \"1M/2M\"" |
	radclient -x -t 3 -r 2 127.0.0.1:3799 coa coasecret >/tmp/radclient.log 2>&1
result "coa_rc=$?"
result "coa_reply=$(grep -o 'Received CoA-[A-Za-z]*' /tmp/radclient.log | head -1)"
dumplog /tmp/radclient.log
step coa 2Mbit 1Mbit

# Back to the authorized rates (the users file's 10M/5M).
out=$(cli shaper restore user1 2>&1)
result "restore_rc=$?"
result "restore_out=$(echo "$out" | tr '\n' ' ')"
step restore 10Mbit 5Mbit
kill $ipid

# Hang up from the client: LCP Terminate, then the kernel pppN goes.
kill -TERM "$(head -1 /run/ppp0.pid 2>/dev/null || pidof pppd)"
t=0
while [ $t -lt 300 ] && [ -n "$(pppifs)" ]; do
	t=$((t + 1))
	sleep 0.1
done
result "ppp_ifaces_after_hangup=$(pppifs)"
sleep 4 # the BNG's Stopping state (one restart timer) before it ends the session

# A second session, ended by stopping bngbox.
dial 1 /tmp/pppd2.log
result "pppd2_rc=$?"
result "ppp_ifaces2=$(pppifs)"
# Stop only once its shaping is in place (else the deferred first Set
# finds the interface gone and logs "shaping failed").
[ -n "$(pppifs)" ] && waitpolice "$(pppifs)" && result "police2=1"
kill -TERM $bpid
waitgone $bpid 30 || result "daemon_stop=timeout"
result "ppp_ifaces_after_stop=$(pppifs)"
result "acct_stops=$(grep -c '"type":"stop"' /tmp/acct.jsonl)"
p2=$(head -1 /run/ppp1.pid 2>/dev/null)
if [ -n "$p2" ] && waitgone "$p2" 15; then result "pppd2_exit=1"; else result "pppd2_exit=0"; [ -n "$p2" ] && kill -TERM "$p2"; fi
grep -E 'level=(WARN|ERROR)' /tmp/bngbox.log | sed 's/^/VMLAB-LOG /'
exit 0
