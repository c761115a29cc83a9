package shaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netlink is the Linux Shaper: it executes the planned operations with
// rtnetlink in the namespace named by Config.Netns.
type Netlink struct {
	e    *engine
	h    *netlink.Handle
	raw  *nl.SocketHandle // requests netlink.Handle cannot build (bfifo); same netns
	mode Upstream
	log  *slog.Logger

	ifbMu  sync.Mutex
	ifbs   map[string]int // guarded by ifbMu; shared IFB name → ifindex
	progFD int            // guarded by ifbMu; the classifier program, -1 if not loaded
}

var _ Shaper = (*Netlink)(nil)

// Handles and priorities of what we install.
var (
	rootHandle    = netlink.MakeHandle(1, 0)
	ingressHandle = netlink.MakeHandle(0xffff, 0)
)

const (
	filterPrio   = 1
	filterHandle = 0x80000800 // u32 "800::800": root hash table, node 0x800
	policeMTU    = 65535      // police GRO/GSO-sized skbs too
)

// New opens a netlink handle in cfg.Netns, deletes IFB devices left over by
// a previous run there, and resolves cfg.Upstream: auto probes for
// act_police once by installing a police filter on a throwaway IFB device,
// and logs the choice. Asking for police on a kernel without act_police is
// an error wrapping ErrNotSupported.
func New(cfg Config) (*Netlink, error) {
	cfg = cfg.withDefaults()
	if cfg.Upstream > UpstreamIFB {
		return nil, fmt.Errorf("shaper: bad upstream mode %d", cfg.Upstream)
	}
	h, raw, err := openHandle(cfg.Netns)
	if err != nil {
		return nil, err
	}
	n := &Netlink{h: h, raw: raw, log: cfg.Logger, ifbs: map[string]int{}, progFD: -1}
	if err := n.removeLeftovers(cfg); err != nil {
		h.Close()
		raw.Close()
		return nil, err
	}
	n.mode, err = n.resolveMode(cfg)
	if err != nil {
		h.Close()
		raw.Close()
		return nil, err
	}
	if n.mode == UpstreamIFB {
		// The first shared IFB is made now, so that a kernel without
		// what it needs fails the start, not the first session.
		if err := n.ensureIFB(0); err != nil {
			n.Close()
			return nil, fmt.Errorf("%w: upstream ifb needs the kernel's ifb, sch_htb and cls_bpf and the bpf() syscall: %w", ErrNotSupported, err)
		}
	}
	n.e = newEngine(cfg, n.mode, n)
	return n, nil
}

// openHandle opens a netlink handle and a raw rtnetlink socket in the
// namespace at path ("" = the caller's).
func openHandle(path string) (*netlink.Handle, *nl.SocketHandle, error) {
	ns := netns.None()
	if path != "" {
		var err error
		if ns, err = netns.GetFromPath(path); err != nil {
			return nil, nil, fmt.Errorf("shaper: netns %s: %w", path, err)
		}
		defer ns.Close()
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, nil, fmt.Errorf("shaper: netlink in %q: %w", path, err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("shaper: netlink in %q: %w", path, err)
	}
	return h, &nl.SocketHandle{Socket: s}, nil
}

// replaceBfifo is `tc qdisc replace dev <idx> parent <parent> bfifo limit
// <limit>b` with no handle: the kernel grafts a new bfifo over the default
// leaf of a new class, and changes the limit of the bfifo already there.
// vishvananda/netlink has no fifo qdisc with options, hence the raw
// request (struct tc_fifo_qopt is one u32, native endian).
func (n *Netlink) replaceBfifo(idx int, parent, limit uint32) error {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   unix.SizeofNlMsghdr,
			Type:  unix.RTM_NEWQDISC,
			Flags: unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_REPLACE | unix.NLM_F_ACK,
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: n.raw},
	}
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(idx), Parent: parent})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated("bfifo")))
	req.AddData(nl.NewRtAttr(nl.TCA_OPTIONS, nl.Uint32Attr(limit)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// Mode returns the upstream mode in use: UpstreamPolice or UpstreamIFB.
func (n *Netlink) Mode() Upstream { return n.mode }

// Set implements Shaper.
func (n *Netlink) Set(ctx context.Context, iface string, r rate.Rates) error {
	return n.e.set(ctx, iface, r)
}

// Clear implements Shaper.
func (n *Netlink) Clear(ctx context.Context, iface string) error { return n.e.clear(ctx, iface) }

// Stats returns the counters.
func (n *Netlink) Stats() Stats { return n.e.stats() }

// Close implements Shaper; call it after all Set and Clear calls returned.
// It deletes the shared IFB devices (the upload shaping of sessions still
// shaped goes with them); what is installed on session interfaces stays.
func (n *Netlink) Close() error {
	if n.e != nil {
		n.e.close()
	}
	n.ifbMu.Lock()
	defer n.ifbMu.Unlock()
	var errs []error
	for name := range n.ifbs {
		if l, err := n.h.LinkByName(name); err == nil && ours(l) {
			if err := n.h.LinkDel(l); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("shaper: delete %s: %w", name, err))
			}
		}
	}
	n.ifbs = nil
	if n.progFD >= 0 {
		unix.Close(n.progFD)
		n.progFD = -1
	}
	n.h.Close()
	n.raw.Close()
	return errors.Join(errs...)
}

// exec performs one op. Deleting what is already gone succeeds.
func (n *Netlink) exec(_ context.Context, o op) error {
	err := n.do(o)
	if err != nil && o.isDelete() && isGone(err) {
		return nil
	}
	return err
}

// index implements backend.
func (n *Netlink) index(iface string) (int, error) {
	l, err := n.h.LinkByName(iface)
	if err != nil {
		if isGone(err) {
			return 0, fmt.Errorf("%w: %w", errGone, err)
		}
		return 0, err
	}
	return l.Attrs().Index, nil
}

func isGone(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV)
}

func (n *Netlink) do(o op) error {
	switch o.Kind {
	case opClassSet, opClassDel:
		return n.doClass(o)
	case opLeafSet:
		idx, err := n.ifbIndex(o.Dev)
		if err != nil {
			return err
		}
		return n.replaceBfifo(idx, netlink.MakeHandle(1, o.Class), o.TBF.Limit)
	}
	idx := o.Idx
	if idx == 0 {
		link, err := n.h.LinkByName(o.Dev)
		if err != nil {
			return err
		}
		idx = link.Attrs().Index
	}
	switch o.Kind {
	case opRootReplace:
		return n.h.QdiscReplace(makeTbf(idx, o.TBF))
	case opRootChange:
		return n.h.QdiscChange(makeTbf(idx, o.TBF))
	case opRootDel:
		return n.h.QdiscDel(makeTbf(idx, tbf{}))
	case opIngressAdd:
		return n.h.QdiscReplace(makeIngress(idx))
	case opIngressDel:
		return n.h.QdiscDel(makeIngress(idx))
	case opFilterPolice:
		return n.h.FilterReplace(makeU32(idx, makePolice(o.TBF)))
	case opFilterRedirect:
		ifb, err := n.ifbIndex(o.IFB)
		if err != nil {
			return err
		}
		return n.h.FilterReplace(makeU32(idx, netlink.NewMirredAction(ifb)))
	case opFilterDel:
		return n.h.FilterDel(makeU32(idx))
	}
	return fmt.Errorf("unknown op %d", o.Kind)
}

// doClass creates, changes or deletes a session's HTB class on a shared
// IFB (deleting it deletes its leaf).
func (n *Netlink) doClass(o op) error {
	idx, err := n.ifbIndex(o.Dev)
	if err != nil {
		return err
	}
	c := &netlink.HtbClass{ClassAttrs: netlink.ClassAttrs{
		LinkIndex: idx,
		Parent:    rootHandle,
		Handle:    netlink.MakeHandle(1, o.Class),
	}}
	if o.Kind == opClassDel {
		return n.h.ClassDel(c)
	}
	rate := o.TBF.Rate / 8
	c.Rate, c.Ceil = rate, rate
	c.Buffer = netlink.Xmittime(rate, o.TBF.Burst)
	c.Cbuffer = c.Buffer
	c.Quantum = htbQuantum(o.TBF.Rate)
	return n.h.ClassReplace(c)
}

// ifbIndex returns the ifindex of a shared IFB we made.
func (n *Netlink) ifbIndex(name string) (int, error) {
	n.ifbMu.Lock()
	idx, ok := n.ifbs[name]
	n.ifbMu.Unlock()
	if !ok {
		return 0, fmt.Errorf("shared IFB %s not set up", name)
	}
	return idx, nil
}

// ensureIFB implements backend: it makes shared IFB k (see ifbSetup) unless
// it exists already.
func (n *Netlink) ensureIFB(k int) error {
	name := sharedIFB(k)
	n.ifbMu.Lock()
	defer n.ifbMu.Unlock()
	if n.ifbs == nil {
		return ErrClosed
	}
	if _, ok := n.ifbs[name]; ok {
		return nil
	}
	if n.progFD < 0 {
		fd, err := loadClassifier()
		if err != nil {
			return fmt.Errorf("load bpf classifier: %w", err)
		}
		n.progFD = fd
	}
	idx, err := n.setupIFB(name)
	if err != nil {
		if l, lerr := n.h.LinkByName(name); lerr == nil && ours(l) {
			n.h.LinkDel(l)
		}
		return err
	}
	n.ifbs[name] = idx
	n.log.Info("shaper shared ifb ready", "ifb", name)
	return nil
}

// setupIFB creates, marks and brings up an IFB, puts an HTB root on it and
// the BPF classifier under that. The caller holds ifbMu.
func (n *Netlink) setupIFB(name string) (int, error) {
	if err := n.h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: ifbTxQLen}}); err != nil {
		return 0, fmt.Errorf("ip link add %s type ifb: %w", name, err)
	}
	link, err := n.h.LinkByName(name)
	if err != nil {
		return 0, err
	}
	// The kernel ignores IFLA_IFALIAS on creation.
	if err := n.h.LinkSetAlias(link, sharedAlias); err != nil {
		return 0, fmt.Errorf("set alias: %w", err)
	}
	// No IPv6 link-local on the IFB (no DAD, no MLD, no fib6 routes).
	if err := n.h.LinkSetIP6AddrGenMode(link, inet6AddrGenModeNone); err != nil && !errors.Is(err, unix.EAFNOSUPPORT) {
		return 0, fmt.Errorf("addrgenmode none: %w", err)
	}
	if err := n.h.LinkSetUp(link); err != nil {
		return 0, err
	}
	idx := link.Attrs().Index
	htb := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: rootHandle, Parent: netlink.HANDLE_ROOT})
	if err := n.h.QdiscReplace(htb); err != nil {
		return 0, fmt.Errorf("htb root qdisc: %w", err)
	}
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: rootHandle, Priority: 1, Protocol: unix.ETH_P_ALL, Handle: 1},
		Fd:          n.progFD,
		Name:        classifierName,
	}
	if err := n.h.FilterReplace(f); err != nil {
		return 0, fmt.Errorf("bpf classifier: %w", err)
	}
	return idx, nil
}

// inet6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h).
const inet6AddrGenModeNone = 1

func ours(link netlink.Link) bool {
	return strings.HasPrefix(link.Attrs().Alias, ifbAliasPrefix)
}

func makeTbf(idx int, t tbf) *netlink.Tbf {
	q := &netlink.Tbf{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: rootHandle, Parent: netlink.HANDLE_ROOT}}
	if t.Rate != 0 {
		q.Rate = t.Rate / 8
		q.Limit = t.Limit
		q.Buffer = netlink.Xmittime(q.Rate, t.Burst)
	}
	return q
}

func makeIngress(idx int) *netlink.Ingress {
	return &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: ingressHandle, Parent: netlink.HANDLE_INGRESS}}
}

func makeU32(idx int, actions ...netlink.Action) *netlink.U32 {
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: idx,
			Parent:    ingressHandle,
			Priority:  filterPrio,
			Protocol:  unix.ETH_P_ALL,
			Handle:    filterHandle,
		},
		Actions: actions,
	}
}

func makePolice(t tbf) *netlink.PoliceAction {
	p := netlink.NewPoliceAction()
	p.Rate = uint32(t.Rate / 8) // desired checked it fits
	p.Burst = t.Burst
	p.Mtu = policeMTU
	p.ExceedAction = netlink.TC_POLICE_SHOT
	p.NotExceedAction = netlink.TC_POLICE_OK
	return p
}
