package shaper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netlink is the Linux Shaper: it executes the planned operations with
// rtnetlink in the namespace named by Config.Netns.
type Netlink struct {
	e       *engine
	h       *netlink.Handle
	mode    Upstream
	poolMax int

	poolMu   sync.Mutex
	pool     []string // guarded by poolMu; idle IFB device names
	poolNext int      // guarded by poolMu; suffix of the next pool name
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
	h, err := openHandle(cfg.Netns)
	if err != nil {
		return nil, err
	}
	n := &Netlink{h: h, poolMax: max(cfg.IFBPool, 0)}
	if err := n.removeLeftovers(cfg); err != nil {
		h.Close()
		return nil, err
	}
	n.mode, err = n.resolveMode(cfg)
	if err != nil {
		h.Close()
		return nil, err
	}
	n.e = newEngine(cfg, n.mode, n.exec)
	return n, nil
}

func openHandle(path string) (*netlink.Handle, error) {
	if path == "" {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("shaper: netlink: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("shaper: netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("shaper: netlink in %s: %w", path, err)
	}
	return h, nil
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
// Shaping stays installed; IFB devices are
// removed by Clear or by the next New in the same namespace.
func (n *Netlink) Close() error {
	n.e.close()
	n.poolMu.Lock()
	pool := n.pool
	n.pool = nil
	n.poolMu.Unlock()
	var errs []error
	for _, name := range pool {
		if l, err := n.h.LinkByName(name); err == nil && ours(l) {
			if err := n.h.LinkDel(l); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("shaper: delete pooled %s: %w", name, err))
			}
		}
	}
	n.h.Close()
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

func isGone(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV)
}

func (n *Netlink) do(o op) error {
	switch o.Kind {
	case opIFBAdd:
		if n.takePooled(o.Dev, o.Alias) {
			return nil
		}
		return n.addIFB(o.Dev, o.Alias)
	case opIFBUp, opIFBDel:
		return n.doIFB(o)
	}
	link, err := n.h.LinkByName(o.Dev)
	if err != nil {
		return err
	}
	idx := link.Attrs().Index
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
		ifb, err := n.h.LinkByName(o.IFB)
		if err != nil {
			return err
		}
		return n.h.FilterReplace(makeU32(idx, netlink.NewMirredAction(ifb.Attrs().Index)))
	case opFilterDel:
		return n.h.FilterDel(makeU32(idx))
	}
	return fmt.Errorf("unknown op %d", o.Kind)
}

// doIFB sets our IFB device up or deletes (or pools) it.
func (n *Netlink) doIFB(o op) error {
	link, err := n.h.LinkByName(o.Dev)
	if err != nil {
		return err
	}
	if !ours(link) {
		return fmt.Errorf("%s is not an IFB device of ours (alias %q)", o.Dev, link.Attrs().Alias)
	}
	if o.Kind == opIFBUp {
		// No IPv6 link-local on the IFB: with addrgenmode eui64 each IFB
		// coming up runs DAD and MLD, which costs milliseconds of RTNL
		// work per device and grows with the number of devices (the TUN
		// dataplane does the same for pppN).
		if err := n.h.LinkSetIP6AddrGenMode(link, inet6AddrGenModeNone); err != nil && !errors.Is(err, unix.EAFNOSUPPORT) {
			return fmt.Errorf("addrgenmode none: %w", err)
		}
		return n.h.LinkSetUp(link)
	}
	if n.putPooled(link) {
		return nil
	}
	return n.h.LinkDel(link)
}

// addIFB creates an IFB device marked with alias. A device of that name
// that we created (a leftover) is reused; one we did not create is an error.
func (n *Netlink) addIFB(name, alias string) error {
	err := n.h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: 1000}})
	if err == nil {
		return n.markIFB(name, alias)
	}
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	link, lerr := n.h.LinkByName(name)
	if lerr != nil {
		return err
	}
	if !ours(link) || link.Type() != "ifb" {
		return fmt.Errorf("%s exists and is not ours: %w", name, err)
	}
	if link.Attrs().Alias != alias {
		return n.h.LinkSetAlias(link, alias)
	}
	return nil
}

// markIFB sets the alias that marks a just-created IFB device as ours (the
// kernel ignores IFLA_IFALIAS on creation), deleting it if that fails.
func (n *Netlink) markIFB(name, alias string) error {
	link, err := n.h.LinkByName(name)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetAlias(link, alias); err != nil {
		n.h.LinkDel(link)
		return fmt.Errorf("set alias: %w", err)
	}
	return nil
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

// takePooled renames an idle pooled IFB device to name and marks it with
// alias. It reports false when the pool is empty or the rename failed (the
// pooled device is then deleted).
func (n *Netlink) takePooled(name, alias string) bool {
	if _, err := n.h.LinkByName(name); err == nil {
		return false // exists: addIFB adopts it if it is ours
	}
	n.poolMu.Lock()
	if len(n.pool) == 0 {
		n.poolMu.Unlock()
		return false
	}
	pname := n.pool[len(n.pool)-1]
	n.pool = n.pool[:len(n.pool)-1]
	n.poolMu.Unlock()
	link, err := n.h.LinkByName(pname)
	if err != nil || !ours(link) {
		return false
	}
	if err := n.h.LinkSetName(link, name); err != nil {
		n.h.LinkDel(link)
		return false
	}
	if err := n.h.LinkSetAlias(link, alias); err != nil {
		n.h.LinkDel(link)
		return false
	}
	return true
}

// putPooled parks an IFB device that no longer receives traffic (the
// redirect is removed first) in the pool: down, root qdisc removed, renamed
// bngpoolN, alias without a session. It reports false when the pool is full
// or parking failed, and the caller deletes the device.
func (n *Netlink) putPooled(link netlink.Link) bool {
	n.poolMu.Lock()
	if len(n.pool) >= n.poolMax {
		n.poolMu.Unlock()
		return false
	}
	pname := fmt.Sprintf("bngpool%d", n.poolNext)
	n.poolNext++
	n.poolMu.Unlock()
	if err := n.h.LinkSetDown(link); err != nil {
		return false
	}
	if err := n.h.QdiscDel(makeTbf(link.Attrs().Index, tbf{})); err != nil && !isGone(err) {
		return false
	}
	if err := n.h.LinkSetName(link, pname); err != nil {
		return false
	}
	if err := n.h.LinkSetAlias(link, ifbAliasPrefix); err != nil {
		return false
	}
	n.poolMu.Lock()
	defer n.poolMu.Unlock()
	if len(n.pool) >= n.poolMax {
		return false
	}
	n.pool = append(n.pool, pname)
	return true
}
