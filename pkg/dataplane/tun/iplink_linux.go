package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// rtnl is the dataplane's route-netlink socket and ioctl socket, both in the
// network namespace New ran in. The netlink socket serialises requests.
//
// Requests run on one goroutine, runExecLoop, not on the caller's: the
// netlink library receives into a 64 KiB array on the stack, which would
// grow every session goroutine that brings a device up to 128 KiB of stack
// (and, through the runtime's adaptive starting stack size, every goroutine
// started after). The socket serialises requests anyway, so one worker
// costs no parallelism.
type rtnl struct {
	sockets map[int]*nl.SocketHandle
	ioctlFd int
	ops     atomic.Uint64 // netlink requests sent, for tests and benchmarks
	reqs    chan execReq
	quit    chan struct{} // closed by close
	done    chan struct{} // closed when runExecLoop returns
}

// execReq is one request for runExecLoop; the error comes back on errc.
type execReq struct {
	req  *nl.NetlinkRequest
	errc chan error
}

func newRTNL() (*rtnl, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tun: netlink socket: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("tun: ioctl socket: %w", os.NewSyscallError("socket", err))
	}
	r := &rtnl{sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}, ioctlFd: fd,
		reqs: make(chan execReq), quit: make(chan struct{}), done: make(chan struct{})}
	go r.runExecLoop()
	return r, nil
}

// close stops runExecLoop; later requests fail with net.ErrClosed.
func (r *rtnl) close() {
	close(r.quit)
	<-r.done
	r.sockets[unix.NETLINK_ROUTE].Socket.Close()
	unix.Close(r.ioctlFd)
}

// exec sends req and waits for the kernel's answer.
func (r *rtnl) exec(req *nl.NetlinkRequest) error {
	errc := make(chan error, 1)
	select {
	case r.reqs <- execReq{req, errc}:
		return <-errc
	case <-r.quit:
		return net.ErrClosed
	}
}

func (r *rtnl) runExecLoop() {
	defer close(r.done)
	for {
		select {
		case e := <-r.reqs:
			e.req.Sockets = r.sockets
			r.ops.Add(1)
			_, err := e.req.Execute(unix.NETLINK_ROUTE, 0)
			e.errc <- err
		case <-r.quit:
			return
		}
	}
}

// iffTUNExcl is IFF_TUN_EXCL (linux/if_tun.h): TUNSETIFF fails with EBUSY
// instead of attaching to an existing device of that name.
const iffTUNExcl = 0x8000

// openTUN creates a new, non-persistent TUN device named name and returns
// its file descriptor (non-blocking, for the pollers) and index. It never
// attaches to an existing device: EBUSY means the name is taken.
func (r *rtnl) openTUN(name string) (int, int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("tun: %w", &os.PathError{Op: "open", Path: "/dev/net/tun", Err: err})
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("tun: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | iffTUNExcl)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("tun: %s: %w", name, os.NewSyscallError("ioctl TUNSETIFF", err))
	}
	idx, err := r.ifindex(name)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, idx, nil
}

func (r *rtnl) ifindex(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("tun: %w", err)
	}
	if err := unix.IoctlIfreq(r.ioctlFd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("tun: %s: %w", name, os.NewSyscallError("ioctl SIOCGIFINDEX", err))
	}
	return int(ifr.Uint32()), nil
}

// linkSet is one RTM_NEWLINK: "ip link set dev <idx> mtu <mtu> group
// <group> [addrgenmode none] [up]". addrgenmode none stops the kernel from
// generating its own IPv6 link-local address (and running DAD and MLD for
// it) when the device comes up: that made each link-up cost milliseconds
// and grow with the number of interfaces. The kernel applies IFLA_AF_SPEC
// after the flags, so callers set it before bringing the device up.
func (r *rtnl) linkSet(idx, mtu int, group uint32, noAddrGen bool, state linkState) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(idx)
	switch state {
	case linkUp:
		msg.Flags = unix.IFF_UP
		msg.Change = unix.IFF_UP
	case linkDown:
		msg.Change = unix.IFF_UP
	}
	req.AddData(msg)
	if mtu > 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu))))
	}
	if group != 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(group)))
	}
	if noAddrGen {
		spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
		inet6 := spec.AddRtAttr(unix.AF_INET6, nil)
		inet6.AddRtAttr(unix.IFLA_INET6_ADDR_GEN_MODE, []byte{inet6AddrGenModeNone})
		req.AddData(spec)
	}
	if err := r.exec(req); err != nil {
		return fmt.Errorf("tun: ip link set %d mtu %d group %d (addrgenmode none %v, state %d): %w",
			idx, mtu, group, noAddrGen, state, err)
	}
	return nil
}

// linkState says whether linkSet changes IFF_UP.
type linkState int8

const (
	linkKeep linkState = iota
	linkUp
	linkDown
)

// inet6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h).
const inet6AddrGenModeNone = 1

// addr is "ip addr add|del <local>/<plen> peer <peer> dev <idx>". For IPv4
// the kernel installs the /32 host route to peer via the device itself
// (proto kernel), so no separate RTM_NEWROUTE is needed.
func (r *rtnl) addr(add bool, idx int, local, peer netip.Addr, plen int) error {
	typ, flags, verb := unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, "add"
	if !add {
		typ, flags, verb = unix.RTM_DELADDR, unix.NLM_F_ACK, "del"
	}
	req := nl.NewNetlinkRequest(typ, flags)
	fam := unix.AF_INET
	if local.Is6() {
		fam = unix.AF_INET6
	}
	msg := nl.NewIfAddrmsg(fam)
	msg.Index = uint32(idx)
	msg.Prefixlen = uint8(plen)
	if local.Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, local.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, peer.AsSlice()))
	if local.Is6() && local == peer {
		// No peer: no prefix route either (the peer gets a /128 route).
		req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(unix.IFA_F_NODAD|unix.IFA_F_NOPREFIXROUTE)))
	}
	err := r.exec(req)
	if !add && errors.Is(err, unix.EADDRNOTAVAIL) {
		// Already gone: IPv6 addresses go with link-down on a parked
		// device unless keep_addr_on_down is set.
		return nil
	}
	if err != nil {
		return fmt.Errorf("tun: ip addr %s %s/%d peer %s dev %d: %w", verb, local, plen, peer, idx, err)
	}
	return nil
}

// route is "ip -6 route add|del <dst>/128 dev <idx>": the route to the
// peer's link-local address. Unlike deleting an IPv6 address, deleting a
// route does not make the kernel walk the whole FIB.
func (r *rtnl) route(add bool, idx int, dst netip.Addr) error {
	typ, flags, verb := unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, "add"
	if !add {
		typ, flags, verb = unix.RTM_DELROUTE, unix.NLM_F_ACK, "del"
	}
	req := nl.NewNetlinkRequest(typ, flags)
	msg := nl.NewRtMsg()
	msg.Family = unix.AF_INET6
	msg.Dst_len = 128
	msg.Table = unix.RT_TABLE_MAIN
	msg.Protocol = unix.RTPROT_STATIC
	msg.Scope = unix.RT_SCOPE_UNIVERSE
	msg.Type = unix.RTN_UNICAST
	if !add {
		msg.Protocol, msg.Scope, msg.Type = 0, unix.RT_SCOPE_NOWHERE, 0
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.RTA_DST, dst.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(idx))))
	err := r.exec(req)
	if !add && errors.Is(err, unix.ESRCH) {
		return nil // already gone
	}
	if err != nil {
		return fmt.Errorf("tun: ip -6 route %s %s/128 dev %d: %w", verb, dst, idx, err)
	}
	return nil
}

// removeLeftovers deletes TUN links named prefix* in group: interfaces a
// crashed previous run made persistent or leaked. It touches nothing else.
func removeLeftovers(prefix string, group uint32) ([]string, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tun: netlink handle: %w", err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("tun: ip link show: %w", err)
	}
	var removed []string
	for _, l := range links {
		a := l.Attrs()
		if a.Group != group || l.Type() != "tuntap" || !strings.HasPrefix(a.Name, prefix) {
			continue
		}
		if err := h.LinkDel(l); err != nil {
			return removed, fmt.Errorf("tun: ip link del %s: %w", a.Name, err)
		}
		removed = append(removed, a.Name)
	}
	return removed, nil
}

// ll6 is the link-local address fe80::<id>.
func ll6(id uint64) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	for i := range 8 {
		b[15-i] = byte(id >> (8 * i))
	}
	return netip.AddrFrom16(b)
}
