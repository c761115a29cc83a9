# Scenario pppoe-client: the guest is a PPPoE subscriber (pppd + its PPPoE
# plugin, kernel PPPoE) against a BNG on the far side of eth0.
#
# For each method in VMLAB_AUTHS (pap, chap) it brings a session up as
# VMLAB_USER/VMLAB_PASS with the other method refused, reports the address,
# peer and DNS, pings the BNG side, and hangs up (SIGTERM: LCP
# Terminate-Request, then PADT).
. /vmlab/lib.sh

ip link set eth0 up
i=0
for auth in $(echo "$VMLAB_AUTHS" | tr ',' ' '); do
	case $auth in
	pap) refuse=refuse-chap ;;
	chap) refuse=refuse-pap ;;
	*) say "unknown auth $auth"; continue ;;
	esac
	rm -f /etc/ppp/resolv.conf
	log=/tmp/pppd-$auth.log
	t0=$(cut -d' ' -f1 /proc/uptime)
	pppd plugin pppoe.so nic-eth0 unit $i user "$VMLAB_USER" password "$VMLAB_PASS" \
		noauth $refuse refuse-mschap refuse-mschap-v2 refuse-eap \
		noipdefault usepeerdns defaultroute maxfail 1 mtu 1492 mru 1492 \
		noccp novj nodeflate nobsdcomp noipv6 lcp-echo-interval 0 \
		debug logfile $log updetach
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	result "$auth.pppd_rc=$rc"
	result "$auth.up_seconds=$(echo "$t0 $t1" | awk '{printf "%.2f", $2-$1}')"
	dev=ppp$i
	if [ $rc -eq 0 ]; then
		set -- $(ip -4 -o addr show dev $dev | awk '{print $4, $6}')
		result "$auth.ifname=$dev"
		result "$auth.local=$1"
		result "$auth.peer=${2%/*}"
		result "$auth.mtu=$(cat /sys/class/net/$dev/mtu)"
		if [ -f /etc/ppp/resolv.conf ]; then
			result "$auth.dns=$(awk '/^nameserver/ {print $2}' /etc/ppp/resolv.conf | paste -sd, -)"
		fi
		if ping -c 3 -W 3 "${VMLAB_PING:-${2%/*}}" >/tmp/ping.log 2>&1; then
			result "$auth.ping=ok"
		else
			result "$auth.ping=fail"
			dumplog /tmp/ping.log
		fi
		pid=$(head -1 /run/$dev.pid 2>/dev/null)
		kill -TERM "$pid"
		if waitgone "$pid" 20; then result "$auth.hangup=ok"; else result "$auth.hangup=timeout"; fi
		grep -q 'Sent PADT' $log && result "$auth.padt_sent=1"
		ip link show dev $dev >/dev/null 2>&1 && result "$auth.iface_left=1"
		# Stay on the link while the BNG finishes: after acking our LCP
		# Terminate-Request it waits one restart timer (3 s, RFC 1661
		# Stopping state) before it ends the session and sends PADT; a
		# powered-off guest would drop that PADT at the tap.
		sleep 5
	fi
	dumplog $log
	i=$((i + 1))
done
