# Scenario kernel-bng: bngbox runs in the guest with the kernel dataplane,
# eth0 as its access interface; the host emulates VMLAB_SESSIONS
# subscribers (bngbox loadgen) that ping 100.64.0.1 VMLAB_PINGS times each
# and hold their session.
#
# The guest prints VMLAB-READY once the daemon serves, waits until every
# session is active and has counted the pings, reports what
# `bngbox cli show sessions json` and the kernel say, then waits for the
# subscribers to hang up and reports what is left.
. /vmlab/lib.sh

n=${VMLAB_SESSIONS:-2}
pings=${VMLAB_PINGS:-5}
vlans=${VMLAB_VLANS:-untagged}
ip link set eth0 up
# With VLANs the access NIC must pass tagged frames of VLANs that have no
# device yet (the VLAN device comes with the first session): qemu's
# virtio-net filters 802.1Q VIDs the guest did not register unless the
# NIC is promiscuous.
[ "$vlans" = untagged ] || ip link set eth0 promisc on
bngbox_users "$n"
bngbox_config "${VMLAB_DATAPLANE:-kernel}" eth0 "$vlans"
bngbox_start
cli() { bngbox cli --socket /run/bngbox.sock "$@"; }
result "dataplane=$(bngbox_dataplane)"
grep 'dataplane selected' /tmp/bngbox.log | sed 's/^/VMLAB-LOG /'
echo "VMLAB-READY"

# Wait until n sessions are active and each has received the pings.
ok=0
t=0
while [ $t -lt ${VMLAB_WAIT:-90} ]; do
	cli show sessions json | tr -d ' \n' >/tmp/sessions.json
	active=$(grep -o '"state":"active"' /tmp/sessions.json | wc -l)
	short=$(grep -o '"rx_packets":[0-9]*' /tmp/sessions.json | cut -d: -f2 | awk -v p="$pings" '$1 < p' | wc -l)
	if [ "$active" -ge "$n" ] && [ "$short" -eq 0 ]; then
		ok=1
		break
	fi
	t=$((t + 1))
	sleep 1
done
result "sessions_ok=$ok"
[ $ok = 1 ] || dumplog /tmp/bngbox.log
result "sessions=$(cat /tmp/sessions.json)"
result "ppp_ifaces=$(ls /sys/class/net | grep '^ppp' | paste -sd, -)"
for d in /sys/class/net/ppp*; do
	[ -e "$d" ] || continue
	dev=$(basename $d)
	result "$dev.mtu=$(cat $d/mtu)"
	result "$dev.addr=$(ip -4 -o addr show dev $dev | awk '{print $4 "_" $6}')"
	result "$dev.kernel_rx_packets=$(cat $d/statistics/rx_packets)"
done
result "routes=$(ip -4 route show | grep ppp | awk '{print $1 "@" $3}' | paste -sd, -)"
result "vlan_ifaces=$(ls /sys/class/net | grep '^eth0\.' | sort | paste -sd, -)"
for d in /sys/class/net/eth0.*; do
	[ -e "$d" ] || continue
	dev=$(basename $d)
	result "$dev.vlan=$(ip -d link show dev $dev | grep -o 'vlan protocol [^ ]* id [0-9]*' | tr ' ' _)"
done

# The subscribers hang up when their hold time ends.
t=0
while [ $ok = 1 ] && [ $t -lt ${VMLAB_WAIT:-90} ]; do
	cli show sessions json | tr -d ' \n' >/tmp/sessions.json
	grep -q '"state"' /tmp/sessions.json || break
	t=$((t + 1))
	sleep 1
done
sleep 1
result "ppp_ifaces_after=$(ls /sys/class/net | grep '^ppp' | paste -sd, -)"
result "vlan_ifaces_after=$(ls /sys/class/net | grep '^eth0\.' | paste -sd, -)"
result "acct_stops=$(grep -c '"type":"stop"' /tmp/acct.jsonl)"
kill -TERM $bpid
waitgone $bpid 20 || result "daemon_stop=timeout"
grep -E 'level=(WARN|ERROR)' /tmp/bngbox.log | sed 's/^/VMLAB-LOG /'
