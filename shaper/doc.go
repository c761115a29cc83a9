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
//	upstream, mode "ifb" (the kernel has no act_police): one shared IFB,
//	set up once by New, holds an HTB class per session; a BPF classifier
//	picks the class from the packet's ingress ifindex, so a session costs
//	no netdev and no filter on the IFB:
//	  ip link add bngifb0 txqueuelen 100 type ifb              (once)
//	  tc qdisc replace dev bngifb0 root handle 1: htb           (once)
//	  tc filter replace dev bngifb0 parent 1: ... bpf bngbox_class (once)
//	  tc class replace dev bngifb0 parent 1: classid 1:N htb rate R ceil R burst B cburst B
//	  tc qdisc replace dev bngifb0 parent 1:N bfifo limit L
//	  tc qdisc replace dev ppp0 handle ffff: ingress
//	  tc filter replace dev ppp0 parent ffff: protocol all prio 1 handle 800::800 \
//	     u32 match u32 0 0 action mirred egress redirect dev bngifb0
//	where N = ifindex(ppp0) mod 0xfff0 + 1. Two live interfaces with the
//	same N go to different shared IFBs (bngifb1, ... made on demand).
//
// A rate of 0 means unlimited: the corresponding qdiscs, filters and
// class are removed. Rates.DownBurst/UpBurst override the derived burst
// max(rate*Config.BurstTime, 2*Config.MTU); the queue limit is
// rate*Config.Latency + burst (tbf limit downstream, bfifo limit of the
// class upstream).
//
// Both implementations share one planner (plan.go): it turns the state
// applied so far and the desired state into a list of operations. [Fake]
// prints them as an iproute2 transcript; [Netlink] (Linux) executes them with
// github.com/vishvananda/netlink. Table tests on the fake therefore cover the
// real diff logic.
//
// IFB devices carry an alias starting "bngbox-shaper:"; [New] deletes such
// devices left over by a crashed run in its network namespace, so run one
// Netlink shaper per network namespace. Close deletes the shared IFBs.
//
// Set and Clear may be called concurrently for different interfaces; calls
// for the same interface are serialised. They do netlink I/O and must not be
// called on the packet path.
//
// Not supported: HTB hierarchies (parent classes, borrowing), per-flow shaping, leaf qdiscs
// under tbf (fq_codel is absent on the development kernel), IPv4/IPv6 split
// rates, and ingress policing with a peak rate.
package shaper
