#!/usr/bin/env bash
# make demo: bngbox doing its main job on a self-contained default.
#
#   bbdemo-sub ──(sub0 ↔ acc0)── bbdemo-bng ──(up0 ↔ inet0)── bbdemo-inet
#
# bngbox runs in bbdemo-bng (userspace dataplane) as a PPPoE access
# concentrator; `bngbox loadgen` emulates N subscribers in bbdemo-sub that
# authenticate with CHAP, get addresses and ping 198.51.100.2 in bbdemo-inet
# through their sessions. Everything is removed on exit.
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
cleanup() {
	set +e
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
YAML

say "bngbox config check"
"$BIN" config check -c "$dir/bngbox.yaml"

say "starting bngbox in $P-bng"
ip netns exec "$P-bng" "$BIN" run -c "$dir/bngbox.yaml" 2> "$dir/bngbox.log" &
daemon=$!
for _ in $(seq 50); do grep -q "bngbox running" "$dir/bngbox.log" && break; sleep 0.1; done
grep -q "bngbox running" "$dir/bngbox.log" || { cat "$dir/bngbox.log"; exit 1; }
grep -E "dataplane selected|bngbox running" "$dir/bngbox.log" | sed 's/^/  /'

say "$N subscribers dial in (CHAP), each pings 198.51.100.2 through its session, lines held $HOLD"
ip netns exec "$P-sub" "$BIN" loadgen -i sub0 -n "$N" --auth chap --ping 198.51.100.2 --hold "$HOLD" > "$dir/loadgen.out" 2>&1 &
lg=$!
for _ in $(seq 300); do
	up=$("$BIN" cli --socket "$dir/cli.sock" show stat json 2>/dev/null | sed -n 's/.*"active": *\([0-9]*\).*/\1/p')
	[ "${up:-0}" -ge "$N" ] && break
	sleep 0.1
done

say "bngbox cli show sessions (first 10 of $N)"
"$BIN" cli --socket "$dir/cli.sock" show sessions | head -11
say "bngbox cli show stat"
"$BIN" cli --socket "$dir/cli.sock" show stat
say "bngbox cli show pools"
"$BIN" cli --socket "$dir/cli.sock" show pools

wait "$lg" || { cat "$dir/loadgen.out"; echo "demo: loadgen failed"; exit 1; }
say "loadgen report"
sed 's/^/  /' "$dir/loadgen.out"

say "stopping bngbox (SIGTERM: PADT and Accounting-Stop for every session)"
kill "$daemon"; wait "$daemon" || true; daemon=""
starts=$(grep -c '"type":"start"' "$dir/acct.jsonl" || true)
stops=$(grep -c '"type":"stop"' "$dir/acct.jsonl" || true)
echo "  accounting: $starts starts, $stops stops"
echo "  last record: $(tail -1 "$dir/acct.jsonl")"
grep -q "sessions up: $N/$N" "$dir/loadgen.out" && grep -q "ping $N/$N" "$dir/loadgen.out" || { echo "demo: not every subscriber got through"; exit 1; }
say "demo ok"
