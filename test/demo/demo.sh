#!/usr/bin/env bash
# make demo: bngbox doing its main job on a self-contained default.
#
#   bbdemo-sub ──(sub0 ↔ acc0)── bbdemo-bng ──(up0 ↔ inet0)── bbdemo-inet
#
# bngbox runs in bbdemo-bng (userspace dataplane) as a PPPoE access
# concentrator; `bngbox loadgen` emulates N subscribers in bbdemo-sub that
# authenticate with CHAP, get addresses and ping 198.51.100.2 in bbdemo-inet
# through their sessions. Everything is removed on exit.
#
# Telemetry: the embedded MQTT broker listens on bbdemo-bng's addresses; from
# bbdemo-inet, mosquitto_sub logs in as customer user0001 (its PPP password)
# and as the operator, and the demo prints what they received. /metrics is
# read with curl inside bbdemo-bng.
set -euo pipefail

BIN=${BNGBOX_BIN:-$(dirname "$0")/../../bin/bngbox}
BIN=$(readlink -f "$BIN")
N=${DEMO_SESSIONS:-300}
HOLD=${DEMO_HOLD:-8s}
P=bbdemo
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, TUN devices)"; exit 1; }
[ -x "$BIN" ] || { echo "demo: $BIN not built (run make build)"; exit 1; }

dir=$(mktemp -d /tmp/bbdemo.XXXXXX)
daemon=""
subs=""
cleanup() {
	set +e
	for p in $subs; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	for ns in sub bng inet; do ip netns del "$P-$ns" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
for ns in sub bng inet; do ip netns del "$P-$ns" 2>/dev/null || true; done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "topology: $P-sub ── $P-bng ── $P-inet"
for ns in sub bng inet; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
ip link add "${P}a" type veth peer name "${P}b"
ip link set "${P}a" netns "$P-sub"; ip link set "${P}b" netns "$P-bng"
ip -n "$P-sub" link set "${P}a" name sub0; ip -n "$P-bng" link set "${P}b" name acc0
ip link add "${P}c" type veth peer name "${P}d"
ip link set "${P}c" netns "$P-bng"; ip link set "${P}d" netns "$P-inet"
ip -n "$P-bng" link set "${P}c" name up0; ip -n "$P-inet" link set "${P}d" name inet0
for l in "sub sub0" "bng acc0" "bng up0" "inet inet0"; do set -- $l; ip -n "$P-$1" link set "$2" up; done
ip -n "$P-bng" addr add 198.51.100.1/24 dev up0
ip -n "$P-inet" addr add 198.51.100.2/24 dev inet0
ip -n "$P-inet" route add 100.64.0.0/16 via 198.51.100.1
ip netns exec "$P-bng" sysctl -qw net.ipv4.ip_forward=1

{
	echo "users:"
	for i in $(seq 1 "$N"); do printf '  - {name: user%04d, password: secret}\n' "$i"; done
} > "$dir/users.yaml"
cat > "$dir/bngbox.yaml" <<YAML
dataplane: userspace
nas: {identifier: demo-bng}
pppoe:
  interfaces: [{name: acc0, vlans: [untagged]}]
  padi-rate-per-mac: 50
ppp:
  dns: [192.0.2.53]
pools: [{name: default, range: 100.64.0.0/16}]
auth: {backend: local, users-file: users.yaml}
accounting: {file: acct.jsonl, interim-interval: 0s}
cli: {socket: $dir/cli.sock}
telemetry:
  enabled: true
  listen: ":1883"
  store: telemetry.db
  operators: [{user: noc, password: demo-noc}]
metrics: {listen: "127.0.0.1:9469"}
YAML

say "bngbox config check"
"$BIN" config check -c "$dir/bngbox.yaml"

say "starting bngbox in $P-bng"
ip netns exec "$P-bng" "$BIN" run -c "$dir/bngbox.yaml" 2> "$dir/bngbox.log" &
daemon=$!
for _ in $(seq 50); do grep -q "bngbox running" "$dir/bngbox.log" && break; sleep 0.1; done
grep -q "bngbox running" "$dir/bngbox.log" || { cat "$dir/bngbox.log"; exit 1; }
grep -E "dataplane selected|telemetry started|bngbox running" "$dir/bngbox.log" | sed 's/^/  /'

TOPIC=bngbox/demo-bng/session
mqtt() { ip netns exec "$P-inet" "$@" -h 198.51.100.1 -p 1883 -V mqttv5; }
metrics() { ip netns exec "$P-bng" curl -sSf --max-time 5 http://127.0.0.1:9469/metrics; }
metric() { metrics | awk -v k="$1" '$1 == k { print $2 }'; }
say "telemetry: mosquitto_sub from $P-inet as customer user0001 and as operator noc"
mqtt mosquitto_sub -u user0001 -P secret -t "$TOPIC/user0001/#" -v > "$dir/customer.out" 2>&1 &
subs="$subs $!"
mqtt mosquitto_sub -u noc -P demo-noc -t "bngbox/#" -v > "$dir/operator.out" 2>&1 &
subs="$subs $!"
for _ in $(seq 50); do [ "$(metric bngbox_mqtt_clients)" = 2 ] && break; sleep 0.1; done
[ "$(metric bngbox_mqtt_clients)" = 2 ] || { cat "$dir/customer.out" "$dir/operator.out"; echo "demo: MQTT clients did not connect"; exit 1; }
echo "  user0001 subscribed to $TOPIC/user0001/#; noc to bngbox/#"

say "$N subscribers dial in (CHAP), each pings 198.51.100.2 through its session, lines held $HOLD"
ip netns exec "$P-sub" "$BIN" loadgen -i sub0 -n "$N" --auth chap --ping 198.51.100.2 --hold "$HOLD" > "$dir/loadgen.out" 2>&1 &
lg=$!
for _ in $(seq 300); do
	up=$("$BIN" cli --socket "$dir/cli.sock" show stat json 2>/dev/null | sed -n 's/.*"active": *\([0-9]*\).*/\1/p')
	[ "${up:-0}" -ge "$N" ] && break
	sleep 0.1
done

say "bngbox cli show sessions (first 10 of $N)"
"$BIN" cli --socket "$dir/cli.sock" show sessions > "$dir/sessions.txt"; head -11 "$dir/sessions.txt"
say "bngbox cli show stat"
"$BIN" cli --socket "$dir/cli.sock" show stat
say "bngbox cli show pools"
"$BIN" cli --socket "$dir/cli.sock" show pools
say "/metrics (curl http://127.0.0.1:9469/metrics in $P-bng), during the hold"
metrics | grep -E '^bngbox_(sessions|session_setups_total|session_auth_total|mqtt_clients)' | sed 's/^/  /'
active=$(metric 'bngbox_sessions{state="active"}')
[ "$active" = "$N" ] || { echo "demo: /metrics shows $active active sessions, want $N"; exit 1; }

wait "$lg" || { cat "$dir/loadgen.out"; echo "demo: loadgen failed"; exit 1; }
say "loadgen report"
sed 's/^/  /' "$dir/loadgen.out"

# Every line hung up: per user the operator gets state online, start, the
# final usage, stop and state offline.
want=$((5 * N))
for _ in $(seq 100); do [ "$(grep -c '^bngbox/' "$dir/operator.out")" -ge "$want" ] && break; sleep 0.1; done
kill $subs; wait $subs 2>/dev/null || true; subs=""
say "what customer user0001 received (mosquitto_sub -u user0001 -P secret -t '$TOPIC/user0001/#' -v)"
sed 's/^/  /' "$dir/customer.out"
cust=$(grep -c '^bngbox/' "$dir/customer.out" || true)
for pat in "/state {\"state\":\"online\"" "/event {\"event\":\"start\"" "/usage {\"time\"" "/event {\"event\":\"stop\"" "/state {\"state\":\"offline\""; do
	grep -q "^$TOPIC/user0001$pat" "$dir/customer.out" || { echo "demo: customer did not get $pat"; exit 1; }
done
[ "$cust" = 5 ] || { echo "demo: customer got $cust messages, want 5 (state online, start, usage, stop, state offline)"; exit 1; }
say "what operator noc received (bngbox/#)"
for kind in '"state":"online"' '"event":"start"' '/usage ' '"event":"stop"' '"state":"offline"'; do
	printf '  %-20s %s\n' "$kind" "$(grep -c "$kind" "$dir/operator.out" || true)"
done
ops=$(grep -c '^bngbox/' "$dir/operator.out" || true)
users=$(grep '^bngbox/' "$dir/operator.out" | cut -d/ -f4 | sort -u | wc -l)
echo "  $ops messages about $users users"
[ "$ops" = "$want" ] && [ "$users" = "$N" ] || { echo "demo: operator got $ops messages about $users users, want $want about $N"; exit 1; }
say "a late subscriber still learns when user0001's line went down (retained state)"
late=$(mqtt mosquitto_sub -u user0001 -P secret -t "$TOPIC/user0001/state" -C 1 -W 5)
echo "  $late"
case $late in *'"state":"offline"'*'"cause":"User-Request"'*) ;; *) echo "demo: no retained offline state"; exit 1;; esac

say "stopping bngbox (SIGTERM: PADT and Accounting-Stop for every session)"
kill "$daemon"; wait "$daemon" || true; daemon=""
starts=$(grep -c '"type":"start"' "$dir/acct.jsonl" || true)
stops=$(grep -c '"type":"stop"' "$dir/acct.jsonl" || true)
echo "  accounting: $starts starts, $stops stops"
echo "  last record: $(tail -1 "$dir/acct.jsonl")"
grep -q "sessions up: $N/$N" "$dir/loadgen.out" && grep -q "ping $N/$N" "$dir/loadgen.out" || { echo "demo: not every subscriber got through"; exit 1; }
say "demo ok"
