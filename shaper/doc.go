// Package shaper applies per-session rate limits to session interfaces.
//
// The [Shaper] interface is declarative: Set(ctx, iface, rates) states what an
// interface should look like, and the implementation applies only the
// difference from what it last applied there. Setting the same rates again
// issues no netlink request; changing only the downstream rate changes only
// the downstream tbf, in place, so no packet is lost to a delete/add.
//
// What is installed on a session interface (iproute2 terms):
//
//	downstream (to the subscriber):
//	  tc qdisc replace dev ppp0 root handle 1: tbf rate R burst B limit L
//
//	upstream (from the subscriber), mode "police":
//	  tc qdisc replace dev ppp0 handle ffff: ingress
//	  tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 \
//	     u32 match u32 0 0 action police rate R burst B mtu 65535 drop
//
//	upstream, mode "ifb" (the kernel has no act_police):
//	  ip link add ifb-ppp0 alias bngbox-shaper:ppp0 type ifb
//	  ip link set dev ifb-ppp0 up
//	  tc qdisc replace dev ifb-ppp0 root handle 1: tbf rate R burst B limit L
//	  tc qdisc replace dev ppp0 handle ffff: ingress
//	  tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 \
//	     u32 match u32 0 0 action mirred egress redirect dev ifb-ppp0
//
// A rate of 0 means unlimited: the corresponding qdiscs, filters and IFB
// device are removed. Rates.DownBurst/UpBurst override the derived burst
// max(rate*Config.BurstTime, 2*Config.MTU); the tbf queue limit is
// rate*Config.Latency + burst.
//
// Both implementations share one planner (plan.go): it turns the state
// applied so far and the desired state into a list of operations. [Fake]
// prints them as an iproute2 transcript; [Netlink] (Linux) executes them with
// github.com/vishvananda/netlink. Table tests on the fake therefore cover the
// real diff logic.
//
// IFB devices carry the alias "bngbox-shaper:<session iface>"; [New] deletes
// such devices left over by a crashed run in its network namespace, so run
// one Netlink shaper per network namespace.
//
// Set and Clear may be called concurrently for different interfaces; calls
// for the same interface are serialised. They do netlink I/O and must not be
// called on the packet path.
//
// Not supported: HTB hierarchies, per-class or per-flow shaping, leaf qdiscs
// under tbf (fq_codel is absent on the development kernel), IPv4/IPv6 split
// rates, and ingress policing with a peak rate.
package shaper
