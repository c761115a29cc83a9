package shaper

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bngbox/bngbox/pkg/rate"
)

// ifbAliasPrefix marks the IFB devices this package creates.
const ifbAliasPrefix = "bngbox-shaper:"

// sharedAlias is the alias of the shared upload IFB devices.
const sharedAlias = ifbAliasPrefix + "shared"

// ifnamsiz is IFNAMSIZ without the terminating NUL.
const ifnamsiz = 15

// maxIFBs bounds the shared IFB devices: a second one is only made when two
// session interfaces map to the same class (see classMinor).
const maxIFBs = 16

// sharedIFB is the name of shared upload IFB k.
func sharedIFB(k int) string { return sharedPrefix + strconv.Itoa(k) }

const sharedPrefix = "bngifb"

// sharedIndex is the k of sharedIFB(k), or -1.
func sharedIndex(name string) int {
	k, err := strconv.Atoi(strings.TrimPrefix(name, sharedPrefix))
	if err != nil || !strings.HasPrefix(name, sharedPrefix) {
		return -1
	}
	return k
}

// classModulus and classMinor map a session interface's ifindex to the
// minor of its HTB class on a shared IFB: ifindex mod 0xfff0, plus one
// (minor 0 is the qdisc itself). The BPF classifier on the IFB computes
// the same from the packet's ingress ifindex (f_bpf_linux.go).
const classModulus = 0xfff0

func classMinor(ifindex int) uint16 { return uint16(ifindex%classModulus + 1) }

// A tbf is one token bucket: rate in bits/s, burst and limit in bytes.
// The zero value means "none installed".
type tbf struct {
	Rate         uint64
	Burst, Limit uint32
}

func (t tbf) isZero() bool { return t == tbf{} }

// filterKind is what the ingress u32 match-all filter does.
type filterKind uint8

const (
	filterNone filterKind = iota
	filterPolice
	filterRedirect
)

// placement is where a session's upload is shaped in ifb mode: HTB class
// 1:Class on the shared IFB device IFB.
type placement struct {
	IFB   string
	Class uint16
}

// state is what is installed for one session interface. It is both the
// desired state and, per interface, the record of what was applied; a failed
// operation leaves the fields of the operations before it updated, so the
// next Set resumes from there.
type state struct {
	Root    tbf        // root tbf on the session interface (downstream)
	Ingress bool       // ingress qdisc on the session interface
	Filter  filterKind // the u32 match-all filter under ffff:
	Police  tbf        // police parameters when Filter == filterPolice (Limit unused)
	Redir   string     // the IFB the filter redirects to when Filter == filterRedirect
	Class   placement  // the session's HTB class on a shared IFB (upstream), zero if none
	Up      tbf        // rate and burst of that class (Limit unused)
	Leaf    uint32     // limit in bytes of the bfifo under that class, 0 if none
}

func (s state) isZero() bool { return s == state{} }

// opKind enumerates the operations the planner emits.
type opKind uint8

const (
	opRootReplace    opKind = iota // create the root tbf (replacing the default qdisc)
	opRootChange                   // change the root tbf in place
	opRootDel                      // delete the root tbf
	opIngressAdd                   // add the ingress qdisc (idempotent: replace)
	opIngressDel                   // delete the ingress qdisc and its filters
	opFilterPolice                 // install or replace the police filter
	opFilterRedirect               // install or replace the mirred redirect filter
	opFilterDel                    // delete the filter
	opClassSet                     // create or change the HTB class on a shared IFB
	opLeafSet                      // create or change the bfifo under that class
	opClassDel                     // delete that class (and its leaf)
)

// An op is one netlink request. Dev is the device it acts on (the shared
// IFB for the class ops); for opFilterRedirect IFB is the redirect target.
type op struct {
	Kind  opKind
	Dev   string
	IFB   string
	TBF   tbf
	Class uint16
	Idx   int // ifindex of Dev when it is the session interface (set by the engine)
}

// String renders the op as the equivalent iproute2 command.
func (o op) String() string {
	switch o.Kind {
	case opRootReplace:
		return fmt.Sprintf("tc qdisc replace dev %s root handle 1: tbf %s", o.Dev, o.TBF.args())
	case opRootChange:
		return fmt.Sprintf("tc qdisc change dev %s root handle 1: tbf %s", o.Dev, o.TBF.args())
	case opRootDel:
		return fmt.Sprintf("tc qdisc del dev %s root handle 1: tbf", o.Dev)
	case opIngressAdd:
		return fmt.Sprintf("tc qdisc replace dev %s handle ffff: ingress", o.Dev)
	case opIngressDel:
		return fmt.Sprintf("tc qdisc del dev %s handle ffff: ingress", o.Dev)
	case opFilterPolice:
		return fmt.Sprintf("%s action police rate %s burst %db mtu 65535 drop", filterPrefix(o.Dev), tcRate(o.TBF.Rate), o.TBF.Burst)
	case opFilterRedirect:
		return fmt.Sprintf("%s action mirred egress redirect dev %s", filterPrefix(o.Dev), o.IFB)
	case opFilterDel:
		return fmt.Sprintf("tc filter del dev %s parent ffff: protocol all prio 1 handle 800::800 u32", o.Dev)
	case opClassSet:
		return fmt.Sprintf("tc class replace dev %s parent 1: classid 1:%x htb rate %s ceil %s burst %db cburst %db quantum %d",
			o.Dev, o.Class, tcRate(o.TBF.Rate), tcRate(o.TBF.Rate), o.TBF.Burst, o.TBF.Burst, htbQuantum(o.TBF.Rate))
	case opLeafSet:
		return fmt.Sprintf("tc qdisc replace dev %s parent 1:%x bfifo limit %db", o.Dev, o.Class, o.TBF.Limit)
	case opClassDel:
		return fmt.Sprintf("tc class del dev %s classid 1:%x", o.Dev, o.Class)
	}
	return fmt.Sprintf("op(%d) dev %s", o.Kind, o.Dev)
}

// ifbTxQLen is the txqueuelen of the shared IFBs (the HTB direct queue;
// every class has its own bfifo leaf).
const ifbTxQLen = 100

// ifbSetup is what New (and, on a class number clash, a later Set) does
// to make a shared IFB, as iproute2 commands. The bpf program returns
// classid 1:(ingress ifindex mod 0xfff0 + 1); see f_bpf_linux.go.
func ifbSetup(ifb string) []string {
	return []string{
		fmt.Sprintf("ip link add %s txqueuelen %d type ifb", ifb, ifbTxQLen),
		fmt.Sprintf("ip link set dev %s alias %s addrgenmode none up", ifb, sharedAlias),
		fmt.Sprintf("tc qdisc replace dev %s root handle 1: htb r2q 10", ifb),
		fmt.Sprintf("tc filter replace dev %s parent 1: protocol all prio 1 handle 1 bpf name bngbox_class (classid 1:(skb->ingress_ifindex %% 0x%x + 1))", ifb, classModulus),
	}
}

// htbQuantum is the DRR quantum of a class, in bytes: rate/8/10 (r2q 10,
// the kernel's default) clamped to [1500, 200000] as the kernel would, so
// it does not warn once per class.
func htbQuantum(bps uint64) uint32 {
	return uint32(min(max(bps/80, 1500), 200000))
}

func filterPrefix(dev string) string {
	return "tc filter replace dev " + dev + " parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0"
}

func (t tbf) args() string {
	return fmt.Sprintf("rate %s burst %db limit %db", tcRate(t.Rate), t.Burst, t.Limit)
}

// tcRate renders bits/s the way tc parses them (SI units: 1mbit = 10^6 bit/s).
func tcRate(bps uint64) string {
	switch {
	case bps >= 1e9 && bps%1e9 == 0:
		return strconv.FormatUint(bps/1e9, 10) + "gbit"
	case bps >= 1e6 && bps%1e6 == 0:
		return strconv.FormatUint(bps/1e6, 10) + "mbit"
	case bps >= 1e3 && bps%1e3 == 0:
		return strconv.FormatUint(bps/1e3, 10) + "kbit"
	}
	return strconv.FormatUint(bps, 10) + "bit"
}

// apply records in s the effect of o having succeeded.
func (o op) apply(s *state) {
	switch o.Kind {
	case opRootReplace, opRootChange:
		s.Root = o.TBF
	case opRootDel:
		s.Root = tbf{}
	case opIngressAdd:
		s.Ingress = true
	case opIngressDel:
		s.Ingress, s.Filter, s.Police, s.Redir = false, filterNone, tbf{}, ""
	case opFilterPolice:
		s.Filter, s.Police, s.Redir = filterPolice, o.TBF, ""
	case opFilterRedirect:
		s.Filter, s.Police, s.Redir = filterRedirect, tbf{}, o.IFB
	case opFilterDel:
		s.Filter, s.Police, s.Redir = filterNone, tbf{}, ""
	case opClassSet:
		if pl := (placement{IFB: o.Dev, Class: o.Class}); s.Class != pl {
			s.Class, s.Leaf = pl, 0 // a new class has the default leaf
		}
		s.Up = o.TBF
	case opLeafSet:
		if s.Class == (placement{IFB: o.Dev, Class: o.Class}) {
			s.Leaf = o.TBF.Limit
		}
	case opClassDel:
		if s.Class == (placement{IFB: o.Dev, Class: o.Class}) {
			s.Class, s.Up, s.Leaf = placement{}, tbf{}, 0
		}
	}
}

// isDelete reports whether o removes something; deleting what is already
// gone counts as success.
func (o op) isDelete() bool {
	return o.Kind == opRootDel || o.Kind == opIngressDel || o.Kind == opFilterDel || o.Kind == opClassDel
}

// onIface reports whether o acts on the session interface (as opposed to
// a shared IFB).
func (o op) onIface() bool { return o.Kind < opClassSet }

// plan returns the operations that take iface from old to want. New things
// are installed before old ones are removed: the session's class exists
// before traffic is redirected into it, and the redirect is removed before
// the class.
func plan(iface string, old, want state) []op {
	ops := planDown(nil, iface, old, want)
	ops = planUpAdd(ops, iface, old, want)
	return planUpRemove(ops, iface, old, want)
}

func planDown(ops []op, iface string, old, want state) []op {
	switch {
	case want.Root == old.Root:
	case old.Root.isZero():
		ops = append(ops, op{Kind: opRootReplace, Dev: iface, TBF: want.Root})
	case want.Root.isZero():
		ops = append(ops, op{Kind: opRootDel, Dev: iface})
	default:
		ops = append(ops, op{Kind: opRootChange, Dev: iface, TBF: want.Root})
	}
	return ops
}

func planUpAdd(ops []op, iface string, old, want state) []op {
	if c := want.Class; c != (placement{}) {
		if old.Class != c || old.Up != want.Up {
			ops = append(ops, op{Kind: opClassSet, Dev: c.IFB, Class: c.Class, TBF: want.Up})
		}
		if old.Class != c || old.Leaf != want.Leaf {
			ops = append(ops, op{Kind: opLeafSet, Dev: c.IFB, Class: c.Class, TBF: tbf{Limit: want.Leaf}})
		}
	}
	if want.Ingress && !old.Ingress {
		ops = append(ops, op{Kind: opIngressAdd, Dev: iface})
	}
	switch {
	case want.Filter == filterPolice && (old.Filter != filterPolice || old.Police != want.Police || !old.Ingress):
		ops = append(ops, op{Kind: opFilterPolice, Dev: iface, TBF: want.Police})
	case want.Filter == filterRedirect && (old.Filter != filterRedirect || old.Redir != want.Redir || !old.Ingress):
		ops = append(ops, op{Kind: opFilterRedirect, Dev: iface, IFB: want.Redir})
	case want.Filter == filterNone && old.Filter != filterNone && want.Ingress:
		ops = append(ops, op{Kind: opFilterDel, Dev: iface})
	}
	return ops
}

func planUpRemove(ops []op, iface string, old, want state) []op {
	if !want.Ingress && old.Ingress {
		ops = append(ops, op{Kind: opIngressDel, Dev: iface})
	}
	if old.Class != (placement{}) && old.Class != want.Class {
		ops = append(ops, op{Kind: opClassDel, Dev: old.Class.IFB, Class: old.Class.Class})
	}
	return ops
}

// resync returns operations that make iface match want whatever is
// installed: creates are replaces, and everything want lacks is deleted
// (deleting what is gone succeeds). old is only consulted for a class to
// remove.
func resync(iface string, old, want state) []op {
	var ops []op
	if want.Root.isZero() {
		ops = append(ops, op{Kind: opRootDel, Dev: iface})
	} else {
		ops = append(ops, op{Kind: opRootReplace, Dev: iface, TBF: want.Root})
	}
	if c := want.Class; c != (placement{}) {
		ops = append(ops,
			op{Kind: opClassSet, Dev: c.IFB, Class: c.Class, TBF: want.Up},
			op{Kind: opLeafSet, Dev: c.IFB, Class: c.Class, TBF: tbf{Limit: want.Leaf}})
	}
	switch want.Filter {
	case filterPolice:
		ops = append(ops, op{Kind: opIngressAdd, Dev: iface}, op{Kind: opFilterPolice, Dev: iface, TBF: want.Police})
	case filterRedirect:
		ops = append(ops, op{Kind: opIngressAdd, Dev: iface}, op{Kind: opFilterRedirect, Dev: iface, IFB: want.Redir})
	default:
		ops = append(ops, op{Kind: opIngressDel, Dev: iface})
	}
	if old.Class != (placement{}) && old.Class != want.Class {
		ops = append(ops, op{Kind: opClassDel, Dev: old.Class.IFB, Class: old.Class.Class})
	}
	return ops
}

// desired computes the state for iface shaped to r with upstream mode mode
// (police or ifb; cfg has its defaults applied). In ifb mode the upload
// goes to the class at pl, which the caller reserved for iface.
func desired(cfg Config, mode Upstream, r rate.Rates, pl placement) (state, error) {
	var s state
	var err error
	if s.Root, err = cfg.bucket(r.Down, r.DownBurst); err != nil {
		return state{}, fmt.Errorf("down: %w", err)
	}
	upCfg := cfg
	if mode == UpstreamPolice {
		upCfg.BurstTime = cfg.PoliceBurstTime
	}
	up, err := upCfg.bucket(r.Up, r.UpBurst)
	if err != nil {
		return state{}, fmt.Errorf("up: %w", err)
	}
	if up.isZero() {
		return s, nil
	}
	s.Ingress = true
	if mode == UpstreamPolice {
		if up.Rate/8 > math.MaxUint32 {
			return state{}, fmt.Errorf("up: %w: police rate %d bit/s above 34 Gbit/s", ErrBadRate, up.Rate)
		}
		s.Filter, s.Police = filterPolice, tbf{Rate: up.Rate, Burst: up.Burst}
		return s, nil
	}
	s.Filter, s.Redir = filterRedirect, pl.IFB
	s.Class, s.Up, s.Leaf = pl, tbf{Rate: up.Rate, Burst: up.Burst}, up.Limit
	return s, nil
}

// wantsUp reports whether r shapes the upload (valid or not: desired
// decides).
func wantsUp(r rate.Rates) bool { return r.Up != 0 }

// bucket derives the tbf for a rate (bits/s) and burst (bytes, 0 = derive).
func (c Config) bucket(bps, burst uint64) (tbf, error) {
	if bps == 0 {
		return tbf{}, nil
	}
	if bps < 8 {
		return tbf{}, fmt.Errorf("%w: %d bit/s is below 1 byte/s", ErrBadRate, bps)
	}
	bytesPerSec := bps / 8
	if burst == 0 {
		burst = bytesPerSec * uint64(c.BurstTime.Microseconds()) / 1e6
		burst = max(burst, 2*uint64(c.MTU))
	}
	limit := bytesPerSec*uint64(c.Latency.Microseconds())/1e6 + burst
	if burst > math.MaxUint32 || limit > math.MaxUint32 {
		return tbf{}, fmt.Errorf("%w: burst %d or limit %d bytes above 4 GiB", ErrBadRate, burst, limit)
	}
	return tbf{Rate: bps, Burst: uint32(burst), Limit: uint32(limit)}, nil
}

// checkIface rejects names that cannot be a Linux interface.
func checkIface(iface string) error {
	if iface == "" || len(iface) > ifnamsiz || iface == "." || iface == ".." ||
		strings.ContainsAny(iface, "/: \t\n\x00") {
		return fmt.Errorf("%w: %q", ErrBadInterface, iface)
	}
	return nil
}
