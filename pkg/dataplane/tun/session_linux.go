package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/bngbox/bngbox/pkg/dataplane"
	"golang.org/x/sys/unix"
)

// DefaultMTU is the session MTU when LinkConfig.MTU is 0 (RFC 2516 §7).
const DefaultMTU = 1492

// session is one PPPoE session (a demux entry on its port) or one L2TP
// session (the IP writer of its call) and, after Up, a TUN device with its
// reader goroutine.
type session struct {
	dp      *Dataplane
	port    *port              // PPPoE; nil for L2TP
	call    dataplane.L2TPCall // L2TP; nil for PPPoE
	drops   *dropCounters      // the port's, or the dataplane's L2TP counters
	key     demuxKey
	control func(proto uint16, payload []byte)
	hdr     []byte // frame header template, immutable
	log     *slog.Logger

	// dev is set once Up has created and configured the device and
	// flushed the hold queue; the port reader loads it without locking.
	dev atomic.Pointer[tunDev]

	upMu sync.Mutex           // serialises Up and Close
	cfg  dataplane.LinkConfig // applied config; guarded by upMu

	mu     sync.Mutex
	hold   holdQueue // guarded by mu
	closed bool      // guarded by mu

	rxBytes, rxPackets, txBytes, txPackets atomic.Uint64
}

// tunDev is a session's TUN device. Its poller reads it from creation to
// deletion and sends what it reads for the owner.
type tunDev struct {
	fd   int // non-blocking
	name string
	unit int
	idx  int
	ll   uint64 // interface identifier of our link-local address on it, 0: none
	mtu  atomic.Int32
	poll *poller

	rmu   sync.Mutex              // held by the poller while it reads and sends a batch
	owner atomic.Pointer[session] // nil while configuring or parked; set under rmu
}

var _ dataplane.Session = (*session)(nil)

// receive handles one PPP frame from the subscriber (port reader goroutine).
func (s *session) receive(proto uint16, payload []byte) {
	if proto != ProtoIPv4 && proto != ProtoIPv6 {
		if s.control == nil {
			s.drops.add(dropNoControl)
			return
		}
		s.control(proto, payload)
		return
	}
	if d := s.dev.Load(); d != nil {
		s.deliver(d, payload)
		return
	}
	s.mu.Lock()
	if d := s.dev.Load(); d != nil {
		s.mu.Unlock()
		s.deliver(d, payload)
		return
	}
	ok := !s.closed && s.hold.push(payload)
	s.mu.Unlock()
	if !ok {
		s.drops.add(dropHoldOverflow)
	}
}

// deliver writes one IP packet to the TUN device.
func (s *session) deliver(d *tunDev, pkt []byte) {
	if _, err := unix.Write(d.fd, pkt); err != nil {
		s.drops.add(dropTUNWrite)
		return
	}
	s.rxPackets.Add(1)
	s.rxBytes.Add(uint64(len(pkt)))
}

// SendControl sends one PPP frame to the subscriber.
func (s *session) SendControl(proto uint16, payload []byte) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	if s.call != nil {
		return s.call.SendPPP(proto, payload)
	}
	buf := make([]byte, maxHdr+len(payload))
	copy(buf[maxHdr:], payload)
	return s.port.WriteFrame(encap(buf, maxHdr, len(payload), s.hdr, proto))
}

// Up creates the TUN device on first call, then applies only what changed.
func (s *session) Up(cfg dataplane.LinkConfig) error {
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if err := validate(cfg); err != nil {
		return err
	}
	s.upMu.Lock()
	defer s.upMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	if d := s.dev.Load(); d != nil {
		if cfg == s.cfg {
			return nil
		}
		return s.reconfigure(d, cfg)
	}
	d, err := s.create(cfg)
	if err != nil {
		return err
	}
	s.cfg = cfg
	s.mu.Lock()
	for _, pkt := range s.hold.drain() {
		s.deliver(d, pkt)
	}
	s.dev.Store(d)
	s.mu.Unlock()
	s.log.Debug("session up", "iface", d.name, "peer_ip", cfg.PeerIP)
	return nil
}

func validate(cfg dataplane.LinkConfig) error {
	if cfg.PeerIP.IsValid() != cfg.LocalIP.IsValid() {
		return errors.New("tun: LocalIP and PeerIP must be set together")
	}
	if cfg.PeerIP.IsValid() && (!cfg.PeerIP.Is4() || !cfg.LocalIP.Is4()) {
		return errors.New("tun: LocalIP and PeerIP must be IPv4")
	}
	if (cfg.PeerIfaceID == 0) != (cfg.LocalIfaceID == 0) {
		return errors.New("tun: LocalIfaceID and PeerIfaceID must be set together")
	}
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		return fmt.Errorf("tun: bad MTU %d", cfg.MTU)
	}
	return nil
}

// create takes an idle device or makes a new one, configures it, brings it
// up and starts its reader.
func (s *session) create(cfg dataplane.LinkConfig) (*tunDev, error) {
	d, old := s.dp.takeIdle()
	if d == nil {
		var err error
		if d, err = s.dp.newUpDev(cfg.MTU, cfg.LocalIfaceID); err != nil {
			return nil, err
		}
		old = dataplane.LinkConfig{MTU: cfg.MTU}
	}
	d.mtu.Store(int32(cfg.MTU))
	if err := s.apply(d, old, cfg); err != nil {
		s.dp.deleteDev(d)
		return nil, err
	}
	d.attach(s)
	return d, nil
}

// reconfigure applies the difference between s.cfg and cfg.
// The caller holds s.upMu.
func (s *session) reconfigure(d *tunDev, cfg dataplane.LinkConfig) error {
	old := s.cfg
	if cfg.MTU != old.MTU {
		d.mtu.Store(int32(cfg.MTU))
	}
	err := s.apply(d, old, cfg)
	if err == nil {
		s.cfg = cfg
	}
	return err
}

// apply moves the device from config old to cfg: at most one RTM_NEWLINK
// (MTU), one RTM_DELADDR + RTM_NEWADDR for IPv4, and for IPv6 one
// RTM_DELROUTE + RTM_NEWROUTE for the peer (plus our link-local address
// the first time).
func (s *session) apply(d *tunDev, old, cfg dataplane.LinkConfig) error {
	nl := s.dp.nl
	if old.MTU != cfg.MTU {
		if err := nl.linkSet(d.idx, cfg.MTU, 0, false, linkKeep); err != nil {
			return err
		}
	}
	if old.LocalIP != cfg.LocalIP || old.PeerIP != cfg.PeerIP {
		if old.PeerIP.IsValid() {
			if err := nl.addr(false, d.idx, old.LocalIP, old.PeerIP, 32); err != nil {
				return err
			}
		}
		if cfg.PeerIP.IsValid() {
			if err := nl.addr(true, d.idx, cfg.LocalIP, cfg.PeerIP, 32); err != nil {
				return err
			}
		}
	}
	// Our link-local address stays on the device for its whole life (a
	// parked device keeps it): deleting an IPv6 address makes the kernel
	// walk the whole IPv6 FIB (rt6_remove_prefsrc), so it is replaced only
	// when the identifier changes, which a fixed ppp.ipv6-intf-id avoids.
	if cfg.LocalIfaceID != 0 && cfg.LocalIfaceID != d.ll {
		if d.ll != 0 {
			if err := nl.addr(false, d.idx, ll6(d.ll), ll6(d.ll), 128); err != nil {
				return err
			}
			d.ll = 0
		}
		if err := nl.addr(true, d.idx, ll6(cfg.LocalIfaceID), ll6(cfg.LocalIfaceID), 128); err != nil {
			return err
		}
		d.ll = cfg.LocalIfaceID
	}
	if old.PeerIfaceID != cfg.PeerIfaceID {
		if old.PeerIfaceID != 0 {
			if err := nl.route(false, d.idx, ll6(old.PeerIfaceID)); err != nil {
				return err
			}
		}
		if cfg.PeerIfaceID != 0 {
			if err := nl.route(true, d.idx, ll6(cfg.PeerIfaceID)); err != nil {
				return err
			}
		}
	}
	return nil
}

// transmit sends the IP packet buf[maxHdr:maxHdr+n] that the kernel routed
// into the session's device to the subscriber (the device's poller).
func (s *session) transmit(buf []byte, n int) {
	proto := ipProto(buf[maxHdr : maxHdr+n])
	if proto == 0 {
		s.drops.add(dropNotIP)
		return
	}
	if err := s.send(buf, n, proto); err != nil {
		s.drops.add(dropWrite)
		return
	}
	s.txPackets.Add(1)
	s.txBytes.Add(uint64(n))
}

// send sends the IP packet buf[maxHdr:maxHdr+n] to the subscriber.
func (s *session) send(buf []byte, n int, proto uint16) error {
	if s.call != nil {
		return s.call.SendPPP(proto, buf[maxHdr:maxHdr+n])
	}
	return s.port.conn.WriteFrame(encap(buf, maxHdr, n, s.hdr, proto))
}

// Interface is the TUN device name, "" before Up.
func (s *session) Interface() string {
	if d := s.dev.Load(); d != nil {
		return d.name
	}
	return ""
}

// Stats counts IP packets and their bytes (the IP packet, without PPP,
// PPPoE or Ethernet headers). Control frames are not counted.
func (s *session) Stats() dataplane.Stats {
	return dataplane.Stats{
		RxBytes: s.rxBytes.Load(), RxPackets: s.rxPackets.Load(),
		TxBytes: s.txBytes.Load(), TxPackets: s.txPackets.Load(),
	}
}

// Close removes the demux entry and stops the device's reader; no frame
// moves after it returns. The device itself is deleted by closing its last
// file descriptor, which costs the kernel tens of milliseconds (netdev
// unregistration waits for RCU grace periods): with Options.SyncClose that
// happens before Close returns, otherwise in the background with bounded
// concurrency (Dataplane.WaitDeleted and Dataplane.Close wait for it).
func (s *session) Close() error {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.hold.drain()
	s.mu.Unlock()
	if s.call != nil {
		s.call.SetIPWriter(nil)
		s.dp.removeL2TP(s)
	} else {
		s.port.remove(s)
	}
	d := s.dev.Load()
	if d == nil {
		return nil
	}
	// Stop sending for this session; the expensive close(2) of the device
	// runs where we choose, below or in the background.
	d.detach()
	if s.dp.park(d, s.cfg) {
		return nil
	}
	if s.dp.opts.SyncClose {
		return s.dp.deleteDev(d)
	}
	s.dp.reap.Add(1)
	go func() {
		defer s.dp.reap.Done()
		s.dp.reapSem <- struct{}{}
		defer func() { <-s.dp.reapSem }()
		if err := s.dp.deleteDev(d); err != nil {
			s.log.Error("delete interface failed", "iface", d.name, slog.Any("err", err))
		}
	}()
	return nil
}
