package shaper

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/bngbox/bngbox/pkg/rate"
)

// ifbAliasPrefix marks the IFB devices this package creates; the rest of
// the alias is the session interface name.
const ifbAliasPrefix = "bngbox-shaper:"

// ifnamsiz is IFNAMSIZ without the terminating NUL.
const ifnamsiz = 15

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

// state is what is installed for one session interface. It is both the
// desired state and, per interface, the record of what was applied; a failed
// operation leaves the fields of the operations before it updated, so the
// next Set resumes from there.
type state struct {
	Root    tbf        // root tbf on the session interface (downstream)
	Ingress bool       // ingress qdisc on the session interface
	Filter  filterKind // the u32 match-all filter under ffff:
	Police  tbf        // police parameters when Filter == filterPolice (Limit unused)
	IFB     string     // name of our IFB device, "" if none
	IFBUp   bool       // IFB device is administratively up
	IFBRoot tbf        // root tbf on the IFB device (upstream)
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
	opIFBAdd                       // create the IFB device
	opIFBUp                        // set the IFB device up
	opIFBDel                       // delete the IFB device
)

// An op is one netlink request. Dev is the device it acts on; for
// opFilterRedirect IFB is the redirect target; Alias is the IFB's alias.
type op struct {
	Kind  opKind
	Dev   string
	IFB   string
	TBF   tbf
	OnIFB bool // the root qdisc ops act on the IFB device
	Alias string
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
	case opIFBAdd:
		return fmt.Sprintf("ip link add %s alias %s type ifb", o.Dev, o.Alias)
	case opIFBUp:
		return fmt.Sprintf("ip link set dev %s up", o.Dev)
	case opIFBDel:
		return fmt.Sprintf("ip link del %s", o.Dev)
	}
	return fmt.Sprintf("op(%d) dev %s", o.Kind, o.Dev)
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
		if o.OnIFB {
			s.IFBRoot = o.TBF
		} else {
			s.Root = o.TBF
		}
	case opRootDel:
		if o.OnIFB {
			s.IFBRoot = tbf{}
		} else {
			s.Root = tbf{}
		}
	case opIngressAdd:
		s.Ingress = true
	case opIngressDel:
		s.Ingress, s.Filter, s.Police = false, filterNone, tbf{}
	case opFilterPolice:
		s.Filter, s.Police = filterPolice, o.TBF
	case opFilterRedirect:
		s.Filter, s.Police = filterRedirect, tbf{}
	case opFilterDel:
		s.Filter, s.Police = filterNone, tbf{}
	case opIFBAdd:
		s.IFB = o.Dev
	case opIFBUp:
		s.IFBUp = true
	case opIFBDel:
		s.IFB, s.IFBUp, s.IFBRoot = "", false, tbf{}
	}
}

// isDelete reports whether o removes something; deleting what is already
// gone counts as success.
func (o op) isDelete() bool {
	return o.Kind == opRootDel || o.Kind == opIngressDel || o.Kind == opFilterDel || o.Kind == opIFBDel
}

// plan returns the operations that take iface from old to want. New things
// are installed before old ones are removed, the IFB is shaped before
// traffic is redirected into it, and the redirect is removed before the IFB.
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
	if want.IFB != "" && old.IFB != want.IFB {
		ops = append(ops, op{Kind: opIFBAdd, Dev: want.IFB, Alias: ifbAliasPrefix + iface})
	}
	if want.IFB != "" && (!old.IFBUp || old.IFB != want.IFB) {
		ops = append(ops, op{Kind: opIFBUp, Dev: want.IFB})
	}
	if want.IFB != "" && !want.IFBRoot.isZero() {
		switch {
		case old.IFB != want.IFB || old.IFBRoot.isZero():
			ops = append(ops, op{Kind: opRootReplace, Dev: want.IFB, TBF: want.IFBRoot, OnIFB: true})
		case old.IFBRoot != want.IFBRoot:
			ops = append(ops, op{Kind: opRootChange, Dev: want.IFB, TBF: want.IFBRoot, OnIFB: true})
		}
	}
	if want.Ingress && !old.Ingress {
		ops = append(ops, op{Kind: opIngressAdd, Dev: iface})
	}
	switch {
	case want.Filter == filterPolice && (old.Filter != filterPolice || old.Police != want.Police || !old.Ingress):
		ops = append(ops, op{Kind: opFilterPolice, Dev: iface, TBF: want.Police})
	case want.Filter == filterRedirect && (old.Filter != filterRedirect || old.IFB != want.IFB || !old.Ingress):
		ops = append(ops, op{Kind: opFilterRedirect, Dev: iface, IFB: want.IFB})
	case want.Filter == filterNone && old.Filter != filterNone && want.Ingress:
		ops = append(ops, op{Kind: opFilterDel, Dev: iface})
	}
	return ops
}

func planUpRemove(ops []op, iface string, old, want state) []op {
	if !want.Ingress && old.Ingress {
		ops = append(ops, op{Kind: opIngressDel, Dev: iface})
	}
	if old.IFB != "" && old.IFB != want.IFB {
		ops = append(ops, op{Kind: opIFBDel, Dev: old.IFB})
	} else if want.IFB != "" && want.IFBRoot.isZero() && !old.IFBRoot.isZero() {
		ops = append(ops, op{Kind: opRootDel, Dev: want.IFB, OnIFB: true})
	}
	return ops
}

// resync returns operations that make iface match want whatever is
// installed: creates are replaces (an IFB of ours that exists is adopted),
// and everything want lacks is deleted (deleting what is gone succeeds).
// old is only consulted for the name of an IFB to remove.
func resync(iface string, old, want state) []op {
	var ops []op
	if want.Root.isZero() {
		ops = append(ops, op{Kind: opRootDel, Dev: iface})
	} else {
		ops = append(ops, op{Kind: opRootReplace, Dev: iface, TBF: want.Root})
	}
	if want.IFB != "" {
		ops = append(ops,
			op{Kind: opIFBAdd, Dev: want.IFB, Alias: ifbAliasPrefix + iface},
			op{Kind: opIFBUp, Dev: want.IFB})
		if !want.IFBRoot.isZero() {
			ops = append(ops, op{Kind: opRootReplace, Dev: want.IFB, TBF: want.IFBRoot, OnIFB: true})
		}
	}
	switch want.Filter {
	case filterPolice:
		ops = append(ops, op{Kind: opIngressAdd, Dev: iface}, op{Kind: opFilterPolice, Dev: iface, TBF: want.Police})
	case filterRedirect:
		ops = append(ops, op{Kind: opIngressAdd, Dev: iface}, op{Kind: opFilterRedirect, Dev: iface, IFB: want.IFB})
	default:
		ops = append(ops, op{Kind: opIngressDel, Dev: iface})
	}
	if old.IFB != "" && old.IFB != want.IFB {
		ops = append(ops, op{Kind: opIFBDel, Dev: old.IFB})
	}
	return ops
}

// desired computes the state for iface shaped to r with upstream mode mode
// (police or ifb; cfg has its defaults applied).
func desired(cfg Config, mode Upstream, iface string, r rate.Rates) (state, error) {
	var s state
	var err error
	if s.Root, err = cfg.bucket(r.Down, r.DownBurst); err != nil {
		return state{}, fmt.Errorf("down: %w", err)
	}
	up, err := cfg.bucket(r.Up, r.UpBurst)
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
	s.Filter = filterRedirect
	s.IFB, s.IFBUp, s.IFBRoot = ifbName(iface), true, up
	return s, nil
}

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

// ifbName derives the IFB device name for a session interface: "ifb-" +
// iface when that fits IFNAMSIZ, else "ifb-" + a hash of iface.
func ifbName(iface string) string {
	if n := "ifb-" + iface; len(n) <= ifnamsiz {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(iface))
	return fmt.Sprintf("ifb-%08x", h.Sum32())
}

// checkIface rejects names that cannot be a Linux interface.
func checkIface(iface string) error {
	if iface == "" || len(iface) > ifnamsiz || iface == "." || iface == ".." ||
		strings.ContainsAny(iface, "/: \t\n\x00") {
		return fmt.Errorf("%w: %q", ErrBadInterface, iface)
	}
	return nil
}
