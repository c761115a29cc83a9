package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/pkg/dataplane"
)

// A Dataplane is the kernel backend. It works in the network namespace of
// the goroutine's thread that calls its methods (sockets and netlink
// requests are made in the caller's namespace).
type Dataplane struct {
	log *slog.Logger

	mu       sync.Mutex
	ports    map[*port]struct{}    // guarded by mu
	sessions map[*session]struct{} // guarded by mu
	closed   bool                  // guarded by mu

	l2tpMu  sync.Mutex
	genl    *l2tpGenl          // guarded by l2tpMu; nil until the first L2TP session
	tunnels map[uint16]*tunnel // guarded by l2tpMu; by our tunnel ID

	vlanMu sync.Mutex
	vlans  map[string]*vlanDev // guarded by vlanMu; by device name
}

var _ dataplane.Dataplane = (*Dataplane)(nil)

// New checks that the kernel has what the backend needs
// (dataplane.ProbeKernel) and returns a Dataplane.
func New(log *slog.Logger) (*Dataplane, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := dataplane.ProbeKernel(); err != nil {
		return nil, err
	}
	return &Dataplane{log: log, ports: map[*port]struct{}{}, sessions: map[*session]struct{}{},
		tunnels: map[uint16]*tunnel{}, vlans: map[string]*vlanDev{}}, nil
}

// Kind returns dataplane.KindKernel.
func (d *Dataplane) Kind() string { return dataplane.KindKernel }

// OpenPort starts reading discovery frames on ifname. The socket's filter
// takes discovery frames only: session frames are the kernel's, and a copy
// of each would cost a userspace read per forwarded packet.
func (d *Dataplane) OpenPort(ifname string, disc dataplane.DiscoveryFunc) (dataplane.Port, error) {
	conn, err := afpacket.ListenDiscovery(ifname)
	if err != nil {
		return nil, fmt.Errorf("kernel: port %s: %w", ifname, err)
	}
	p := &port{conn: conn, disc: disc, log: d.log.With("port", ifname), done: make(chan struct{})}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		conn.Close()
		return nil, net.ErrClosed
	}
	d.ports[p] = struct{}{}
	d.mu.Unlock()
	go p.readLoop()
	return p, nil
}

// NewPPPoESession connects a PPPoE socket to the session and attaches a PPP
// channel to it; control frames flow from here on. A tagged session's
// socket is bound to a VLAN device for its tags (vlan_linux.go).
func (d *Dataplane) NewPPPoESession(p dataplane.PPPoEParams) (dataplane.Session, error) {
	if p.Port == nil {
		return nil, errors.New("kernel: PPPoE session without a port")
	}
	s, err := newSession(d, p)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		s.Close()
		return nil, net.ErrClosed
	}
	d.sessions[s] = struct{}{}
	d.mu.Unlock()
	return s, nil
}

func (d *Dataplane) forget(s *session) {
	d.mu.Lock()
	delete(d.sessions, s)
	d.mu.Unlock()
}

// Close closes every session and port.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	var sessions []*session
	for s := range d.sessions {
		sessions = append(sessions, s)
	}
	var ports []*port
	for p := range d.ports {
		ports = append(ports, p)
	}
	d.mu.Unlock()
	var errs []error
	for _, s := range sessions {
		errs = append(errs, s.Close())
	}
	for _, p := range ports {
		errs = append(errs, p.close())
	}
	errs = append(errs, d.closeL2TP())
	return errors.Join(errs...)
}

// port is one access interface. Only discovery frames are used: the
// kernel's pppoe driver takes session frames of connected sockets.
type port struct {
	conn *afpacket.Conn
	disc dataplane.DiscoveryFunc
	log  *slog.Logger
	done chan struct{} // closed when readLoop returns

	dropsShort, dropsOther, dropsNoDisc atomic.Uint64
	closeOnce                           sync.Once
}

var _ dataplane.Port = (*port)(nil)

func (p *port) Name() string              { return p.conn.Name() }
func (p *port) MAC() net.HardwareAddr     { return p.conn.MAC() }
func (p *port) WriteFrame(f []byte) error { return p.conn.WriteFrame(f) }

// Drops counts frames the port ignored, by reason.
func (p *port) Drops() map[string]uint64 {
	return map[string]uint64{
		"short":                p.dropsShort.Load(),
		"not_pppoe":            p.dropsOther.Load(),
		"no_discovery_handler": p.dropsNoDisc.Load(),
	}
}

const (
	etherTypeDiscovery = 0x8863
	etherTypeSession   = 0x8864
)

// readLoop passes discovery frames to disc until the socket is closed.
func (p *port) readLoop() {
	defer close(p.done)
	if err := p.conn.Serve(p.log, p.handle); err != nil {
		p.log.Error("port read failed", slog.Any("err", err))
	}
}

func (p *port) handle(b []byte) {
	et, ok := innerEtherType(b)
	if !ok {
		p.dropsShort.Add(1)
		return
	}
	switch et {
	case etherTypeDiscovery:
		if p.disc == nil {
			p.dropsNoDisc.Add(1)
			return
		}
		p.disc(p, b) // tags in-band, as the discovery layer expects
	case etherTypeSession:
		// Not expected (the socket's filter takes discovery only); the
		// pppoe driver has it (through a VLAN device when tagged).
	default:
		p.dropsOther.Add(1)
	}
}

// innerEtherType returns the EtherType after up to two VLAN tags; ok is
// false for a short frame or more than two tags.
func innerEtherType(b []byte) (et uint16, ok bool) {
	off := 12
	for range 3 {
		if len(b) < off+2 {
			return 0, false
		}
		switch et := binary.BigEndian.Uint16(b[off:]); et {
		case 0x8100, 0x88a8, 0x9100:
			off += 4
		default:
			return et, true
		}
	}
	return 0, false
}

func (p *port) close() error {
	var err error
	p.closeOnce.Do(func() {
		err = p.conn.Close()
		<-p.done
	})
	return err
}
