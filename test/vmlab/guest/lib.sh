# Helpers sourced by the scenarios.

# busybox sh prefers its own applets; iproute2 is called by path.
ip() { /sbin/ip "$@"; }
tc() { /sbin/tc "$@"; }

result() { echo "VMLAB-RESULT $*"; }
say() { echo "VMLAB-LOG $*"; }

# dumplog FILE prints FILE to the console, prefixed, for the harness log.
dumplog() {
	[ -f "$1" ] && sed "s|^|VMLAB-LOG $(basename "$1"): |" "$1"
}

# waitgone PID SECONDS waits for a process to exit; it fails on timeout.
waitgone() {
	local w=0
	while kill -0 "$1" 2>/dev/null; do
		w=$((w + 1))
		[ $w -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# xl2tpd_config LNS writes the LAC's configuration: xl2tpd dials LNS with
# tunnel secret s3cret (challenge both ways) and starts pppd with the
# pppol2tp plugin as user1/secret (PAP or CHAP, IPv6CP on). Start it with
# xl2tpd -D -c /etc/xl2tpd/xl2tpd.conf -s /etc/xl2tpd/l2tp-secrets.
xl2tpd_config() {
	mkdir -p /etc/xl2tpd /run/xl2tpd
	cat >/etc/xl2tpd/xl2tpd.conf <<CFG
[global]
port = 1701
access control = no
[lac lns1]
lns = $1
autodial = yes
redial = no
length bit = yes
require authentication = no
challenge = yes
pppoptfile = /etc/ppp/options.l2tpd.client
CFG
	echo '* * s3cret' >/etc/xl2tpd/l2tp-secrets
	chmod 600 /etc/xl2tpd/l2tp-secrets
	cat >/etc/ppp/options.l2tpd.client <<CFG
noauth
user user1
password secret
refuse-eap
refuse-mschap
refuse-mschap-v2
noipdefault
nodefaultroute
mtu 1410
mru 1410
noccp
novj
nodeflate
nobsdcomp
+ipv6
lcp-echo-interval 0
debug
logfile /tmp/pppd-l2tp.log
CFG
}

# bngbox_users N writes /etc/bngbox/users.yaml with user0001 … userN,
# password secret (bngbox loadgen's defaults).
bngbox_users() {
	local i
	mkdir -p /etc/bngbox
	{
		echo "users:"
		i=1
		while [ $i -le "$1" ]; do
			printf '  - {name: user%04d, password: secret}\n' $i
			i=$((i + 1))
		done
	} >/etc/bngbox/users.yaml
}

# bngbox_config DATAPLANE IFACE [VLANS] writes /etc/bngbox/bngbox.yaml, the
# configuration the scenarios share: PPPoE on IFACE (VLANS: one vlans entry,
# e.g. untagged or 100), local-ip 100.64.0.1, pool 100.64.0.0/24, local
# users (users.yaml), accounting to /tmp/acct.jsonl, CLI on
# /run/bngbox.sock, LCP echo every BNG_LCP_ECHO (10s). Scenarios append
# their own sections (shaper, l2tp).
bngbox_config() {
	mkdir -p /etc/bngbox
	cat >/etc/bngbox/bngbox.yaml <<CFG
log: {level: debug}
dataplane: $1
pppoe:
  interfaces:
    - name: $2${3:+
      vlans: [\"$3\"]}
ppp:
  lcp-echo-interval: ${BNG_LCP_ECHO:-10s}
  local-ip: 100.64.0.1
  dns: [192.0.2.53]
pools:
  - {name: default, range: 100.64.0.0/24}
auth: {backend: local, users-file: users.yaml}
accounting: {file: /tmp/acct.jsonl, interim-interval: 0s}
cli: {socket: /run/bngbox.sock}
CFG
}

# bngbox_start [NETNS] starts `bngbox run` (in NETNS if given), logging to
# /tmp/bngbox.log (appended, so it may be restarted), and waits until it
# serves; bpid is its PID. It reports daemon=failed and exits the
# scenario when the daemon dies or takes longer than 60 s.
bngbox_start() {
	local before t
	before=$(cat /tmp/bngbox.log 2>/dev/null | grep -c 'bngbox running')
	if [ -n "${1:-}" ]; then
		/sbin/ip netns exec "$1" bngbox run -c /etc/bngbox/bngbox.yaml >>/tmp/bngbox.log 2>&1 &
	else
		bngbox run -c /etc/bngbox/bngbox.yaml >>/tmp/bngbox.log 2>&1 &
	fi
	bpid=$!
	t=0
	until [ "$(cat /tmp/bngbox.log 2>/dev/null | grep -c 'bngbox running')" -gt "$before" ]; do
		t=$((t + 1))
		if [ $t -gt 600 ] || ! kill -0 $bpid 2>/dev/null; then
			result "daemon=failed"
			dumplog /tmp/bngbox.log
			exit 1
		fi
		sleep 0.1
	done
}

# bngbox_dataplane prints the dataplane the last started daemon runs.
bngbox_dataplane() {
	grep 'bngbox running' /tmp/bngbox.log | tail -1 | grep -o 'dataplane=[a-z]*' | cut -d= -f2
}
