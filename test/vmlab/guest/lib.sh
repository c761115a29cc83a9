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
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt $(($2 * 10)) ] && return 1
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
