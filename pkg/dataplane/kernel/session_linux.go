package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// maxFrame bounds one PPP frame read from /dev/ppp (protocol + payload).
const maxFrame = 1500 + 64

// session is one PPPoE or L2TP session: the PPPoX socket, its PPP channel
// and, after Up, its PPP unit.
type session struct {
	dp      *Dataplane
	log     *slog.Logger
	control func(uint16, []byte)
	sock    int // PPPoX socket (PX_PROTO_OE or PX_PROTO_OL2TP)
	ch      int // /dev/ppp attached to the channel
	chIndex int
	// closeSock closes sock and whatever the session holds besides (L2TP:
	// the kernel session and its share of the tunnel).
	closeSock func() error
	readers   sync.WaitGroup
	closing   atomic.Bool // the readers' errors are the session closing

	// files are the fds the readers read (channel, then unit), in the Go
	// netpoller; Close closes them, which ends the readers. Appended before
	// the session is shared (channel) or under mu (unit).
	files []*os.File

	mu     sync.Mutex
	unit   int                  // guarded by mu; -1 before Up
	ifname string               // guarded by mu
	link   netlink.Link         // guarded by mu
	cfg    dataplane.LinkConfig // guarded by mu; last applied
	closed bool                 // guarded by mu
}

var _ dataplane.Session = (*session)(nil)

func newSession(d *Dataplane, p dataplane.PPPoEParams) (*session, error) {
	dev := p.Port.Name()
	var vlan *vlanDev
	if len(p.VLANs) > 0 {
		v, err := d.acquireVLAN(dev, p.VLANs, p.VLANProtos)
		if err != nil {
			return nil, fmt.Errorf("kernel: session %#04x: %w", p.SessionID, err)
		}
		vlan, dev = v, v.name
	}
	fd, chIndex, err := connectPPPoE(p.SessionID, p.Peer, dev)
	if err != nil {
		if vlan != nil {
			d.releaseVLAN(vlan)
		}
		return nil, fmt.Errorf("kernel: session %#04x on %s: %w", p.SessionID, dev, err)
	}
	closeSock := func() error {
		err := unix.Close(fd)
		if vlan != nil {
			err = errors.Join(err, d.releaseVLAN(vlan))
		}
		return err
	}
	log := d.log.With("pppoe_session_id", p.SessionID, "mac", p.Peer.String(), "channel", chIndex, "dev", dev)
	s, err := startSession(d, fd, chIndex, p.Control, log, closeSock)
	if err != nil {
		return nil, fmt.Errorf("kernel: session %#04x: %w", p.SessionID, err)
	}
	return s, nil
}

// startSession attaches a /dev/ppp channel fd to the connected PPPoX
// socket sock and starts reading control frames from it. On error it calls
// closeSock.
func startSession(d *Dataplane, sock, chIndex int, control func(uint16, []byte), log *slog.Logger, closeSock func() error) (*session, error) {
	ch, err := attachChannel(chIndex)
	if err != nil {
		closeSock()
		return nil, err
	}
	s := &session{
		dp: d, control: control, sock: sock, ch: ch, chIndex: chIndex, unit: -1,
		log: log, closeSock: closeSock,
	}
	s.startReader(ch)
	return s, nil
}

// startReader passes every frame read from fd (channel or unit) to the
// session's Control callback until the session closes. The fd is handed to
// an *os.File, so a reader waits in the Go netpoller (epoll) rather than
// in a poll(2) of its own: with a thread per blocked reader and a timeout
// to notice Close, 100 sessions (200 readers) kept bngbox at a fifth of a
// CPU with nothing to read, and 5,000 would pass Go's 10,000-thread limit.
// fd must be attached already (channel or unit): ppp_poll on an unattached
// /dev/ppp fd returns without poll_wait, and the epoll registration that
// os.NewFile makes would then never be woken.
func (s *session) startReader(fd int) {
	f := os.NewFile(uintptr(fd), "ppp")
	s.files = append(s.files, f)
	s.readers.Add(1)
	go func() {
		defer s.readers.Done()
		s.readLoop(f)
	}()
}

// readLoop reads frames until the session closes (Close closes f) or the
// channel or unit goes away (EOF: a unit without channels, a channel
// without its PPPoX socket).
func (s *session) readLoop(f *os.File) {
	buf := make([]byte, maxFrame)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if !s.closing.Load() {
				s.log.Debug("ppp read ended", "n", n, slog.Any("err", err))
			}
			return
		}
		if n < 2 || s.control == nil {
			continue
		}
		s.control(binary.BigEndian.Uint16(buf), buf[2:n])
	}
}

// SendControl writes one PPP frame to the channel; the kernel adds the
// PPPoE and Ethernet headers.
func (s *session) SendControl(proto uint16, payload []byte) error {
	b := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(b, proto)
	copy(b[2:], payload)
	if _, err := unix.Write(s.ch, b); err != nil {
		return fmt.Errorf("kernel: send control: %w", os.NewSyscallError("write /dev/ppp", err))
	}
	return nil
}

// Up creates pppN the first time, then applies MTU, MRU and addresses
// (IPv4 local peer /32; IPv6 link-local pair /64 once IPv6CP is up).
// The same config again costs nothing.
func (s *session) Up(cfg dataplane.LinkConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	if s.unit < 0 {
		if err := s.newUnitLocked(); err != nil {
			return err
		}
	} else if s.cfg == cfg {
		return nil
	}
	if cfg.MTU > 0 && cfg.MTU != s.cfg.MTU {
		mru := int32(cfg.MTU)
		if err := ioctlInt(s.unit, unix.PPPIOCSMRU, &mru); err != nil {
			return fmt.Errorf("kernel: %s: %w", s.ifname, os.NewSyscallError("ioctl PPPIOCSMRU", err))
		}
		if err := netlink.LinkSetMTU(s.link, cfg.MTU); err != nil {
			return fmt.Errorf("kernel: %s: set mtu: %w", s.ifname, err)
		}
	}
	if cfg.LocalIP != s.cfg.LocalIP || cfg.PeerIP != s.cfg.PeerIP {
		if s.cfg.LocalIP.IsValid() {
			old := &netlink.Addr{IPNet: hostNet(s.cfg.LocalIP.AsSlice()), Peer: hostNet(s.cfg.PeerIP.AsSlice())}
			netlink.AddrDel(s.link, old)
		}
		if cfg.LocalIP.IsValid() && cfg.PeerIP.IsValid() {
			// local peer PEER/32 also installs the host route to the subscriber.
			a := &netlink.Addr{IPNet: hostNet(cfg.LocalIP.AsSlice()), Peer: hostNet(cfg.PeerIP.AsSlice())}
			if err := netlink.AddrAdd(s.link, a); err != nil {
				return fmt.Errorf("kernel: %s: add address %v peer %v: %w", s.ifname, cfg.LocalIP, cfg.PeerIP, err)
			}
		}
	}
	if cfg.LocalIfaceID != s.cfg.LocalIfaceID || cfg.PeerIfaceID != s.cfg.PeerIfaceID {
		if s.cfg.PeerIfaceID != 0 {
			netlink.AddrDel(s.link, linkLocalPair(s.cfg.LocalIfaceID, s.cfg.PeerIfaceID))
		}
		if cfg.PeerIfaceID != 0 {
			// The kernel makes no link-local address on a PPP device (it
			// autoconfigures Ethernet-like devices only): the IPv6CP
			// interface identifiers give both ends (RFC 5072 §5).
			if err := netlink.AddrAdd(s.link, linkLocalPair(cfg.LocalIfaceID, cfg.PeerIfaceID)); err != nil {
				return fmt.Errorf("kernel: %s: add IPv6 link-local address: %w", s.ifname, err)
			}
		}
	}
	if err := netlink.LinkSetUp(s.link); err != nil {
		return fmt.Errorf("kernel: %s: set up: %w", s.ifname, err)
	}
	s.cfg = cfg
	return nil
}

// newUnitLocked creates pppN and connects the channel to it. The caller
// holds s.mu.
func (s *session) newUnitLocked() error {
	unit, n, err := newUnit()
	if err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	v := int32(n)
	if err := ioctlInt(s.ch, unix.PPPIOCCONNECT, &v); err != nil {
		unix.Close(unit)
		return fmt.Errorf("kernel: ppp%d: %w", n, os.NewSyscallError("ioctl PPPIOCCONNECT", err))
	}
	name := "ppp" + strconv.Itoa(n)
	link, err := netlink.LinkByName(name)
	if err != nil {
		unix.Close(unit)
		return fmt.Errorf("kernel: %s: %w", name, err)
	}
	s.unit, s.ifname, s.link = unit, name, link
	s.log.Debug("ppp unit connected", "iface", name)
	// From now on the kernel queues control frames on the unit.
	s.startReader(unit)
	return nil
}

// linkLocalPair is "fe80::LOCAL peer fe80::PEER/64", without DAD (the
// identifiers were negotiated to be distinct).
func linkLocalPair(local, peer uint64) *netlink.Addr {
	return &netlink.Addr{IPNet: ll6(local), Peer: ll6(peer), Flags: unix.IFA_F_NODAD}
}

// ll6 is the /64 link-local network with interface identifier id.
func ll6(id uint64) *net.IPNet {
	ip := make(net.IP, 16)
	ip[0], ip[1] = 0xfe, 0x80
	binary.BigEndian.PutUint64(ip[8:], id)
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(64, 128)}
}

func hostNet(ip net.IP) *net.IPNet {
	bits := 8 * len(ip)
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
}

// Interface is pppN, "" before Up.
func (s *session) Interface() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ifname
}

// Stats are pppN's 64-bit kernel counters (IFLA_STATS64). Rx is from the
// subscriber. They count PPP payload bytes (IP packets), as the kernel does.
func (s *session) Stats() dataplane.Stats {
	s.mu.Lock()
	link := s.link
	s.mu.Unlock()
	if link == nil {
		return dataplane.Stats{}
	}
	l, err := netlink.LinkByIndex(link.Attrs().Index)
	if err != nil || l.Attrs().Statistics == nil {
		return dataplane.Stats{}
	}
	st := l.Attrs().Statistics
	return dataplane.Stats{RxBytes: st.RxBytes, RxPackets: st.RxPackets, TxBytes: st.TxBytes, TxPackets: st.TxPackets}
}

// Close removes pppN (closing the unit fd destroys it), detaches the
// channel and closes the PPPoX socket (L2TP: and deletes the kernel session,
// and the tunnel with its last session).
func (s *session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	files := s.files
	s.mu.Unlock()
	s.closing.Store(true)
	// The unit first (that destroys pppN), then the channel: closing a
	// file ends its reader, and the fd is released once the read returns.
	var errs []error
	for i := len(files) - 1; i >= 0; i-- {
		errs = append(errs, files[i].Close())
	}
	s.readers.Wait()
	errs = append(errs, s.closeSock())
	s.dp.forget(s)
	return errors.Join(errs...)
}
