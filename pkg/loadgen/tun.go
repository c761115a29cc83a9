package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/bngbox/bngbox/l2tp"
	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pppoe"
)

// TUN mode (Config.TUN) gives each subscriber that is up a TUN device
// lg<idx> in the generator's namespace, carrying the session's address, and
// a policy route so that traffic from that address leaves through it:
//
//	ip addr add <ip>/32 dev lg<idx>
//	ip route add default dev lg<idx> table <TUNTableBase+idx>
//	ip rule add from <ip> lookup <TUNTableBase+idx> pref TUNRulePref
//
// Real tools bound to the address (iperf3 -B <ip>, ping -I <ip>) then run
// through the subscriber's PPPoE session (or L2TP call in LAC mode): IPv4
// packets read from the TUN are sent as PPP IPv4 in the session, and IPv4
// received in the session is written to the TUN. The device and rule go when the subscriber hangs up.
const (
	// TUNTableBase + the subscriber's 1-based index is its routing table.
	TUNTableBase = 20000
	// TUNRulePref is the preference of the "from <ip>" rules: before main.
	TUNRulePref = 10000
)

// tunLink is one subscriber's TUN device. The session ID and AC address
// are copied at open, so the reader goroutine never touches sub fields.
type tunLink struct {
	g       *Gen
	name    string
	f       *os.File
	rule    *netlink.Rule
	ip      netip.Addr
	sid     uint16
	hdr     []byte        // Ethernet (+VLAN) header to the AC
	call    *l2tp.Call    // LAC mode: the call instead of sid and hdr
	done    chan struct{} // closed when readLoop returns
	reading bool          // readLoop was started
	close   sync.Once
}

// TUNName is the device name of subscriber idx (1-based).
func TUNName(idx int) string { return fmt.Sprintf("lg%d", idx) }

// openTUN creates lg<idx> for s (which is up) and starts forwarding from it.
func (s *sub) openTUN() (*tunLink, error) {
	t := &tunLink{g: s.g, name: TUNName(s.idx), ip: s.ip, done: make(chan struct{})}
	if s.g.lac != nil {
		if s.call == nil {
			return nil, errors.New("loadgen: tun: the call is gone")
		}
		t.call = s.call
	} else {
		t.sid, t.hdr = s.sid, s.g.frameHeader(nil, s, s.ac, 0x8864)
	}
	f, err := createTUN(t.name)
	if err != nil {
		return nil, err
	}
	t.f = f
	if err := t.configure(s.idx, s.mtu()); err != nil {
		t.Close()
		return nil, err
	}
	t.reading = true
	go t.readLoop()
	return t, nil
}

// mtu is what the session carries: the AC's MRU as negotiated, else 1492.
func (s *sub) mtu() int {
	if s.link != nil {
		if _, peer := s.link.MRU(); peer > 0 {
			return int(peer)
		}
	}
	return 1492
}

// createTUN opens /dev/net/tun as a new IPv4 TUN device without packet
// information headers. The device lives as long as the file.
func createTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("loadgen: tun: %w", &os.PathError{Op: "open", Path: "/dev/net/tun", Err: err})
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("loadgen: tun: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("loadgen: tun %s: %w", name, os.NewSyscallError("ioctl TUNSETIFF", err))
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (t *tunLink) configure(idx, mtu int) error {
	l, err := netlink.LinkByName(t.name)
	if err != nil {
		return fmt.Errorf("loadgen: tun %s: %w", t.name, err)
	}
	host := &net.IPNet{IP: t.ip.AsSlice(), Mask: net.CIDRMask(32, 32)}
	table := TUNTableBase + idx
	steps := []struct {
		op string
		fn func() error
	}{
		{"ip link set mtu", func() error { return netlink.LinkSetMTU(l, mtu) }},
		{"ip addr add", func() error { return netlink.AddrAdd(l, &netlink.Addr{IPNet: host}) }},
		{"ip link set up", func() error { return netlink.LinkSetUp(l) }},
		{"ip route add default table", func() error {
			any4 := &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
			return netlink.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: any4, Scope: netlink.SCOPE_LINK, Table: table})
		}},
		{"ip rule add from", func() error {
			r := netlink.NewRule()
			r.Src, r.Table, r.Priority = host, table, TUNRulePref
			if err := netlink.RuleAdd(r); err != nil {
				return err
			}
			t.rule = r
			return nil
		}},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			return fmt.Errorf("loadgen: tun %s: %s: %w", t.name, st.op, err)
		}
	}
	return nil
}

// readLoop sends every IPv4 packet the kernel routes into the TUN through
// the session. It owns its buffer; the generator's writer is locked.
func (t *tunLink) readLoop() {
	defer close(t.done)
	pkt := make([]byte, 65536)
	frame := make([]byte, 0, 65536+64)
	for {
		n, err := t.f.Read(pkt)
		if err != nil {
			if !isClosed(err) {
				t.g.fail("tun-read")
			}
			return
		}
		if n < 20 || pkt[0]>>4 != 4 {
			continue // IPv6 (router solicitations, MLD): the session is IPv4 here
		}
		if t.call != nil {
			if err := t.call.SendPPP(ppp.ProtoIPv4, pkt[:n]); err != nil && !errors.Is(err, l2tp.ErrClosed) {
				t.g.fail("write")
			}
			continue
		}
		b := append(frame[:0], t.hdr...)
		b = pppoe.AppendHeader(b, pppoe.Header{SessionID: t.sid, Length: uint16(2 + n)})
		b = binary.BigEndian.AppendUint16(b, ppp.ProtoIPv4)
		b = append(b, pkt[:n]...)
		if err := t.g.write(b); err != nil && !isClosed(err) {
			t.g.fail("write")
		}
	}
}

// deliver writes an IPv4 packet received in the session to the TUN. It is
// called on the subscriber's goroutine or by fastPath; the packet is not
// kept. Each write is one packet, so concurrent calls do not mix.
func (t *tunLink) deliver(p []byte) {
	if _, err := t.f.Write(p); err != nil && !isClosed(err) && !errors.Is(err, unix.EAGAIN) {
		t.g.fail("tun-write")
	}
}

// fastPath delivers a packet of the session (PPP protocol proto) to the
// TUN from the caller's goroutine, if it is IPv4 other than ICMP, and says
// whether it did. Bulk traffic (iperf3 through the device) so skips the hop
// through the subscriber's inbox, which overflowed under TCP bursts
// ("inbox-full"); ICMP stays on the subscriber's goroutine, which answers
// and counts echoes.
func (t *tunLink) fastPath(proto uint16, ip []byte) bool {
	if proto != ppp.ProtoIPv4 || len(ip) < 20 || ip[0]>>4 != 4 || ip[9] == 1 {
		return false
	}
	t.deliver(ip)
	return true
}

// fastPathFrame is fastPath for an Ethernet frame of the PPPoE session.
func (t *tunLink) fastPathFrame(f []byte) bool {
	h, body, ok := parseFrame(f)
	if !ok || h.EtherType != 0x8864 {
		return false
	}
	ph, payload, _, err := pppoe.ParseHeader(body)
	return err == nil && ph.SessionID == t.sid && len(payload) >= 2 &&
		t.fastPath(binary.BigEndian.Uint16(payload), payload[2:])
}

// Close removes the rule, then the device (closing the file deletes it and
// its routes), and waits for the reader.
func (t *tunLink) Close() error {
	var err error
	t.close.Do(func() {
		if t.rule != nil {
			if e := netlink.RuleDel(t.rule); e != nil && !errors.Is(e, unix.ENOENT) {
				err = fmt.Errorf("loadgen: tun %s: ip rule del: %w", t.name, e)
			}
		}
		t.f.Close()
		if t.reading {
			<-t.done
		}
	})
	return err
}

// startTUN opens the subscriber's TUN device; a failure is counted and the
// subscriber holds its session without one.
func (s *sub) startTUN() {
	t, err := s.openTUN()
	if err != nil {
		s.g.fail("tun")
		s.g.cfg.Log.Warn("tun not created", "user", s.user, "err", err)
		return
	}
	s.tun = t
	s.fast.Store(t)
	if s.g.cfg.OnTUN != nil {
		s.g.cfg.OnTUN(t.name, t.ip)
	}
}
