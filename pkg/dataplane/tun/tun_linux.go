package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"golang.org/x/sys/unix"
)

// DefaultGroup is the link group stamped on every interface the dataplane
// creates ("ip link show group 25186"), so that a later run can find and
// remove what a crashed run left behind.
const DefaultGroup = 0x6262

// Options configure a Dataplane. The zero value is usable.
type Options struct {
	// Group marks our interfaces; 0 means DefaultGroup.
	Group uint32
	// HoldFrames bounds the IP frames held per session before Up; 0 means 16.
	HoldFrames int
	// NamePrefix of session interfaces; "" means "ppp".
	NamePrefix string
	// KeepLeftovers skips removing marked interfaces at start.
	KeepLeftovers bool
	// SyncClose makes Session.Close wait until the kernel has deleted the
	// interface (tens of milliseconds). By default deletion runs in the
	// background, at most MaxDeleting at a time.
	SyncClose bool
	// MaxDeleting bounds concurrent background deletions; 0 means 16.
	MaxDeleting int
	// IdleDevices is how many closed sessions' devices are kept, up but
	// without addresses, for reuse by later sessions instead of being
	// deleted; 0 deletes every device on Close. Reuse skips the TUN
	// creation, the link-up (an IPv6 FIB walk) and, above all, the
	// kernel's slow device deletion; the name (ppp<N>) is reused too.
	IdleDevices int
}

// A Dataplane is the userspace backend: one AF_PACKET socket per access
// port and one TUN device per session. It works in the network namespace of
// the thread that calls New; Up must run in that namespace too (it opens
// /dev/net/tun, which binds the device to the caller's namespace).
type Dataplane struct {
	log  *slog.Logger
	opts Options
	nl   *rtnl

	pollers []*poller // read the session devices; one per CPU

	units   unitAlloc
	idleMu  sync.Mutex
	idle    []idleDev      // guarded by idleMu; nil after Close
	reap    sync.WaitGroup // background interface deletions
	reapSem chan struct{}  // bounds them

	l2tpDrops dropCounters // drops of L2TP sessions (they have no port)

	mu     sync.Mutex
	ports  map[*port]struct{}    // guarded by mu
	l2tp   map[*session]struct{} // L2TP sessions; guarded by mu
	closed bool                  // guarded by mu
}

var _ dataplane.Dataplane = (*Dataplane)(nil)

// New creates a userspace dataplane and removes interfaces left over by a
// previous run (unless opts.KeepLeftovers).
func New(log *slog.Logger, opts Options) (*Dataplane, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Group == 0 {
		opts.Group = DefaultGroup
	}
	if opts.HoldFrames <= 0 {
		opts.HoldFrames = 16
	}
	if opts.MaxDeleting <= 0 {
		opts.MaxDeleting = 16
	}
	if opts.NamePrefix == "" {
		opts.NamePrefix = "ppp"
	}
	if !opts.KeepLeftovers {
		removed, err := removeLeftovers(opts.NamePrefix, opts.Group)
		if len(removed) > 0 {
			log.Info("removed leftover interfaces", "ifaces", removed)
		}
		if err != nil {
			return nil, err
		}
	}
	r, err := newRTNL()
	if err != nil {
		return nil, err
	}
	d := &Dataplane{log: log, opts: opts, nl: r, ports: make(map[*port]struct{}), l2tp: make(map[*session]struct{}),
		reapSem: make(chan struct{}, opts.MaxDeleting), idle: []idleDev{}}
	for range max(1, runtime.GOMAXPROCS(0)) {
		p, err := newPoller(log)
		if err != nil {
			d.closePollers()
			r.close()
			return nil, err
		}
		d.pollers = append(d.pollers, p)
	}
	return d, nil
}

// newTUN creates the session device with the lowest free unit and
// registers it with a poller (no owner yet). A unit whose name some other
// device holds stays marked used and is skipped.
func (d *Dataplane) newTUN() (*tunDev, error) {
	for range 64 {
		unit := d.units.get()
		name := d.opts.NamePrefix + strconv.Itoa(unit)
		fd, idx, err := d.nl.openTUN(name)
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			d.log.Warn("interface name taken, skipping unit", "unit", unit)
			continue
		}
		if err != nil {
			d.units.put(unit)
			return nil, err
		}
		dev := &tunDev{fd: fd, name: name, unit: unit, idx: idx, poll: d.pollers[idx%len(d.pollers)]}
		if err := dev.poll.add(dev); err != nil {
			unix.Close(fd)
			d.units.put(unit)
			return nil, err
		}
		return dev, nil
	}
	return nil, errors.New("tun: no free interface unit after 64 names taken")
}

// initDev sets a new device's MTU, link group and IPv6 address generation
// mode (none: no kernel link-local, DAD or MLD for it), one request.
func (d *Dataplane) initDev(dev *tunDev, mtu int) error {
	err := d.nl.linkSet(dev.idx, mtu, d.opts.Group, true, linkKeep)
	if errors.Is(err, unix.EAFNOSUPPORT) { // no IPv6 in this kernel
		err = d.nl.linkSet(dev.idx, mtu, d.opts.Group, false, linkKeep)
	}
	if err == nil {
		err = noRouterSolicitations(dev.name)
	}
	return err
}

// noRouterSolicitations sets the device's IPv6 router_solicitations to 0: where the
// namespace does not forward IPv6, the kernel treats a device with a
// link-local address as a host's and sends Router Solicitations (and
// retransmits them for as long as the session lives) to the subscriber. A
// BNG is the router. Without IPv6 (no conf directory) there is nothing to do.
func noRouterSolicitations(ifname string) error {
	dir := "/proc/sys/net/ipv6/conf/" + ifname
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(dir+"/router_solicitations", []byte("0\n"), 0); err != nil {
		return fmt.Errorf("tun: %s: %w", ifname, err)
	}
	return nil
}

// newUpDev creates a device, configures it (MTU, group, no address
// generation, no router solicitations, our link-local fe80::<iid> unless
// iid is 0) and brings it up. Every device is up from here to its deletion:
// the kernel refuses IPv6 routes via a down device, and parked devices stay
// up.
func (d *Dataplane) newUpDev(mtu int, iid uint64) (*tunDev, error) {
	dev, err := d.newTUN()
	if err != nil {
		return nil, err
	}
	if err = d.initDev(dev, mtu); err == nil {
		err = d.addLinkLocal(dev, iid)
	}
	if err == nil {
		err = d.nl.linkSet(dev.idx, 0, 0, false, linkUp)
	}
	if err != nil {
		d.deleteDev(dev)
		return nil, err
	}
	return dev, nil
}

// addLinkLocal gives a new device, still down, our IPv6 link-local address
// fe80::<iid> (nothing when iid is 0 or IPv6 is off on the device). Added
// before the link comes up, the address is never "completed" by the
// kernel's DAD path, which would make it send Router Solicitations to the
// subscriber (a host's behaviour, not a BNG's).
func (d *Dataplane) addLinkLocal(dev *tunDev, iid uint64) error {
	if iid == 0 {
		return nil
	}
	err := d.nl.addr(true, dev.idx, ll6(iid), ll6(iid), 128)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EAFNOSUPPORT) {
		return nil // IPv6 disabled on the device or in the kernel
	}
	if err == nil {
		dev.ll = iid
	}
	return err
}

// Prefill creates devices for the idle pool until it holds
// Options.IdleDevices, each configured with mtu and up and, when iid is not
// 0, with our IPv6 link-local address fe80::<iid> (LinkConfig.LocalIfaceID
// of the sessions to come), so that the first sessions after start reuse
// devices as later ones do. Adding that address is the costly part: the
// kernel inserts every device's local route for it into one FIB node, a
// scan of all the others. It runs on the caller's thread, which must be in
// the dataplane's network namespace, and returns how many devices it made;
// it stops early when the dataplane closes or a device cannot be created.
func (d *Dataplane) Prefill(mtu int, iid uint64) (int, error) {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	made := 0
	for {
		d.idleMu.Lock()
		full := d.idle == nil || len(d.idle) >= d.opts.IdleDevices
		d.idleMu.Unlock()
		if full {
			return made, nil
		}
		dev, err := d.newUpDev(mtu, iid)
		if err != nil {
			return made, err
		}
		if !d.park(dev, dataplane.LinkConfig{MTU: mtu}) {
			d.deleteDev(dev)
			return made, nil
		}
		made++
	}
}

// idleDev is a parked device and the config it still carries (its MTU).
type idleDev struct {
	d   *tunDev
	cfg dataplane.LinkConfig
}

// park keeps a closed session's device for reuse: it removes the session's
// IPv4 address (and with it the route to the peer) and the route to the
// peer's IPv6 link-local address, and leaves the device up with our own
// link-local address, so that reuse costs only the new address and route. Bringing a device down and up makes
// the kernel walk the whole IPv6 FIB twice (rt6_sync_down_dev,
// rt6_sync_up), which grows with the number of sessions. It reports false
// when the pool is full or closed, or the addresses could not be removed.
func (d *Dataplane) park(dev *tunDev, cfg dataplane.LinkConfig) bool {
	d.idleMu.Lock()
	ok := d.idle != nil && len(d.idle) < d.opts.IdleDevices
	d.idleMu.Unlock()
	if !ok {
		return false
	}
	if cfg.PeerIP.IsValid() && d.nl.addr(false, dev.idx, cfg.LocalIP, cfg.PeerIP, 32) != nil {
		return false
	}
	if cfg.PeerIfaceID != 0 && d.nl.route(false, dev.idx, ll6(cfg.PeerIfaceID)) != nil {
		return false
	}
	d.idleMu.Lock()
	defer d.idleMu.Unlock()
	if d.idle == nil || len(d.idle) >= d.opts.IdleDevices {
		return false
	}
	d.idle = append(d.idle, idleDev{dev, dataplane.LinkConfig{MTU: cfg.MTU}})
	return true
}

// takeIdle returns a parked device and its config, or nil.
func (d *Dataplane) takeIdle() (*tunDev, dataplane.LinkConfig) {
	d.idleMu.Lock()
	defer d.idleMu.Unlock()
	if len(d.idle) == 0 {
		return nil, dataplane.LinkConfig{}
	}
	i := d.idle[len(d.idle)-1]
	d.idle = d.idle[:len(d.idle)-1]
	return i.d, i.cfg
}

// deleteDev unregisters the device from its poller and closes its file
// descriptor, which deletes the non-persistent TUN device (the kernel takes
// tens of milliseconds), and frees its unit.
func (d *Dataplane) deleteDev(dev *tunDev) error {
	dev.poll.remove(dev)
	err := unix.Close(dev.fd)
	d.units.put(dev.unit)
	if err != nil {
		return fmt.Errorf("tun: close %s: %w", dev.name, err)
	}
	return nil
}

// WaitDeleted blocks until the interfaces of every closed session are gone.
func (d *Dataplane) WaitDeleted() { d.reap.Wait() }

// Kind returns "userspace".
func (d *Dataplane) Kind() string { return dataplane.KindUserspace }

// OpenPort opens an AF_PACKET socket on ifname and starts its reader.
func (d *Dataplane) OpenPort(ifname string, disc dataplane.DiscoveryFunc) (dataplane.Port, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, net.ErrClosed
	}
	c, err := afpacket.Listen(ifname)
	if err != nil {
		return nil, fmt.Errorf("tun: open port: %w", err)
	}
	p := &port{
		dp:       d,
		conn:     c,
		disc:     disc,
		log:      d.log.With("port", ifname),
		sessions: make(map[demuxKey]*session),
		done:     make(chan struct{}),
	}
	d.ports[p] = struct{}{}
	go p.readLoop()
	return p, nil
}

// NewPPPoESession registers a session on p.Port.
func (d *Dataplane) NewPPPoESession(p dataplane.PPPoEParams) (dataplane.Session, error) {
	pt, ok := p.Port.(*port)
	if !ok || pt.dp != d {
		return nil, errors.New("tun: port is not from this dataplane")
	}
	if len(p.Peer) != 6 {
		return nil, fmt.Errorf("tun: bad peer MAC %s", p.Peer)
	}
	if len(p.VLANs) > maxTags {
		return nil, fmt.Errorf("tun: %d VLAN tags (at most %d)", len(p.VLANs), maxTags)
	}
	tpids := p.VLANProtos
	if tpids == nil {
		tpids = defaultTPIDs(len(p.VLANs))
	}
	if len(tpids) != len(p.VLANs) {
		return nil, fmt.Errorf("tun: %d VLANProtos for %d VLANs", len(tpids), len(p.VLANs))
	}
	// RFC 2516 §4: 0xffff is reserved and 0 is used only in discovery.
	if p.SessionID == 0 || p.SessionID == 0xffff {
		return nil, fmt.Errorf("tun: bad PPPoE session ID %#04x", p.SessionID)
	}
	s := &session{
		dp:      d,
		port:    pt,
		drops:   &pt.drops,
		key:     keyOf(p.Peer, p.VLANs, p.SessionID),
		control: p.Control,
		hdr:     sessionHeader(p.Peer, pt.conn.MAC(), p.VLANs, tpids, p.SessionID),
		hold:    holdQueue{limit: d.opts.HoldFrames},
		log:     pt.log.With("pppoe_session_id", p.SessionID, "mac", p.Peer.String()),
	}
	if err := pt.add(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes every port and session.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	ports := d.ports
	d.ports = nil
	l2tp := d.l2tp
	d.l2tp = nil
	d.mu.Unlock()
	var errs []error
	for p := range ports {
		errs = append(errs, p.close())
	}
	for s := range l2tp {
		errs = append(errs, s.Close())
	}
	d.idleMu.Lock()
	idle := d.idle
	d.idle = nil
	d.idleMu.Unlock()
	for _, i := range idle {
		d.reap.Add(1)
		go func() {
			defer d.reap.Done()
			d.reapSem <- struct{}{}
			defer func() { <-d.reapSem }()
			if err := d.deleteDev(i.d); err != nil {
				d.log.Error("delete interface failed", "iface", i.d.name, slog.Any("err", err))
			}
		}()
	}
	d.reap.Wait()
	d.closePollers()
	d.nl.close()
	return errors.Join(errs...)
}

func (d *Dataplane) closePollers() {
	for _, p := range d.pollers {
		p.close()
	}
}
