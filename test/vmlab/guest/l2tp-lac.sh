# Scenario l2tp-lac: the guest is a LAC (xl2tpd + pppd with the pppol2tp
# plugin) against an LNS on the far side of eth0 (VMLAB_LNS, the guest is
# 100.126.0.2/24). It waits for ppp0, pings VMLAB_PING through it, reports,
# hangs up pppd (LCP Terminate, CDN), closes the tunnel
# (xl2tpd-control disconnect-lac: StopCCN) and stops xl2tpd.
. /vmlab/lib.sh

pings=${VMLAB_PINGS:-5}
ip link set eth0 up
ip addr add 100.126.0.2/24 dev eth0
xl2tpd_config "$VMLAB_LNS"
t0=$(cut -d' ' -f1 /proc/uptime)
xl2tpd -D -c /etc/xl2tpd/xl2tpd.conf -s /etc/xl2tpd/l2tp-secrets -p /run/xl2tpd.pid >/tmp/xl2tpd.log 2>&1 &
xpid=$!
up=0
t=0
while [ $t -lt ${VMLAB_WAIT:-900} ]; do
	a=$(ip -4 -o addr show dev ppp0 2>/dev/null | awk '{print $4 "_" $6}')
	case $a in *_"$VMLAB_PING"/32) up=1; break ;; esac
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
	exit 1
fi
result "ping_rx=$(ping -c "$pings" -W 5 "$VMLAB_PING" | grep -o '[0-9]* packets received' | cut -d' ' -f1)"
echo "VMLAB-UP"
# The host looks at its sessions while the guest holds this one.
sleep "${VMLAB_HOLD:-5}"
ppid=$(pidof pppd)
kill -TERM "$ppid"
waitgone "$ppid" 20 && result "hangup=ok"
sleep 3
xl2tpd-control disconnect-lac lns1 2>&1 | sed 's/^/VMLAB-LOG xl2tpd-control: /'
sleep 3
kill -TERM $xpid
waitgone $xpid 20 || result "xl2tpd_stop=timeout"
grep -iE 'error|fail|warn' /tmp/xl2tpd.log | sed 's/^/VMLAB-LOG xl2tpd: /'
exit 0
