//go:build integration

// Topology:
//
//	bbt-<id>-bng                           bbt-<id>-cli
//	  tun.Dataplane, port bbt<id>a <-- veth --> bbt<id>b  hand-built PPPoE
//	  ppp<N> (TUN) 10.77.0.1 peer 10.77.0.2               frames (afpacket.Conn)
//
// The test goroutine enters bbt-<id>-bng for good (nstest.Enter), so TUN
// devices and netlink requests land there, never in the host namespace.
package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/internal/afpacket/nstest"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/vishvananda/netlink"
)

var (
	localIP = netip.MustParseAddr("10.77.0.1")
	peerIP  = netip.MustParseAddr("10.77.0.2")
	peerIP2 = netip.MustParseAddr("10.77.0.3")
)

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// icmpEcho builds an IPv4 ICMP echo request by hand.
func icmpEcho(src, dst netip.Addr, seq uint16) []byte {
	icmp := []byte{8, 0, 0, 0, 0x42, 0x42, byte(seq >> 8), byte(seq), 'b', 'n', 'g', 'b', 'o', 'x', 0, 0}
	binary.BigEndian.PutUint16(icmp[2:], csum(icmp))
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 1, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(icmp)))
	ip = append(ip, src.AsSlice()...)
	ip = append(ip, dst.AsSlice()...)
	binary.BigEndian.PutUint16(ip[10:], csum(ip))
	return append(ip, icmp...)
}

// icmp6Echo is an ICMPv6 echo request (RFC 4443) from src to dst.
func icmp6Echo(src, dst netip.Addr, seq uint16) []byte {
	icmp := []byte{128, 0, 0, 0, 0x42, 0x42, byte(seq >> 8), byte(seq), 'b', 'n', 'g', 'b', 'o', 'x'}
	pseudo := append(append(src.AsSlice(), dst.AsSlice()...), 0, 0, 0, byte(len(icmp)), 0, 0, 0, 58)
	binary.BigEndian.PutUint16(icmp[2:], csum(append(pseudo, icmp...)))
	ip := []byte{0x60, 0, 0, 0, 0, byte(len(icmp)), 58, 64}
	ip = append(ip, src.AsSlice()...)
	ip = append(ip, dst.AsSlice()...)
	return append(ip, icmp...)
}

// pppoe builds a PPPoE session frame by hand.
func pppoe(dst, src []byte, tags [][2]uint16, sid, proto uint16, payload []byte) []byte {
	b := append(append([]byte{}, dst...), src...)
	for _, tg := range tags {
		b = binary.BigEndian.AppendUint16(b, tg[0])
		b = binary.BigEndian.AppendUint16(b, tg[1])
	}
	b = append(b, 0x88, 0x64, 0x11, 0)
	b = binary.BigEndian.AppendUint16(b, sid)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, payload...)
}

func padi(dst, src []byte, tags [][2]uint16) []byte {
	b := append(append([]byte{}, dst...), src...)
	for _, tg := range tags {
		b = binary.BigEndian.AppendUint16(b, tg[0])
		b = binary.BigEndian.AppendUint16(b, tg[1])
	}
	return append(b, 0x88, 0x63, 0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0)
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
	}
	var zero T
	return zero
}

type ctlFrame struct {
	proto   uint16
	payload []byte
}

type env struct {
	bng, cli *nstest.NS
	dp       *Dataplane
	port     dataplane.Port
	peer     *afpacket.Conn
	peerCh   chan []byte // every frame the subscriber side receives
	discCh   chan []byte
}

// setup builds the topology, enters the bng namespace and opens the port.
func setup(t *testing.T, opts Options, beforeNew func(bng *nstest.NS)) *env {
	id := nstest.ID()
	e := &env{bng: nstest.New(t, id, "bng"), cli: nstest.New(t, id, "cli")}
	a, b := nstest.Veth(t, id, e.bng, e.cli)
	var err error
	e.cli.Do(t, func() { e.peer, err = afpacket.Listen(b) })
	if err != nil {
		t.Fatal(err)
	}
	e.peerCh = make(chan []byte, 256)
	peerDone := make(chan struct{})
	go func() {
		defer close(peerDone)
		for {
			fs, err := e.peer.ReadBatch()
			if err != nil {
				return
			}
			for _, f := range fs {
				select {
				case e.peerCh <- append([]byte(nil), f...):
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { e.peer.Close(); <-peerDone })
	if beforeNew != nil {
		beforeNew(e.bng)
	}
	e.bng.Enter(t)
	e.dp, err = New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.dp.Close(); err != nil {
			t.Errorf("Dataplane.Close: %v", err)
		}
	})
	e.discCh = make(chan []byte, 16)
	e.port, err = e.dp.OpenPort(a, func(_ dataplane.Port, f []byte) { e.discCh <- append([]byte(nil), f...) })
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// nextSession returns the next session frame with protocol proto the
// subscriber receives, skipping anything else.
func (e *env) nextSession(t *testing.T, proto uint16) ([]byte, sessionFrame) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b := <-e.peerCh:
			var f sessionFrame
			if parseSession(b, &f) == nil && f.Proto == proto {
				return b, f
			}
		case <-deadline:
			t.Fatalf("no session frame with protocol %#04x within 5s", proto)
		}
	}
}

func (e *env) write(t *testing.T, f []byte) {
	t.Helper()
	if err := e.peer.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
}

// sync sends a discovery frame and waits for it: every frame sent before
// has been handled by the port reader.
func (e *env) sync(t *testing.T) {
	t.Helper()
	e.write(t, padi(bcast, e.peer.MAC(), nil))
	recv(t, e.discCh, "sync discovery frame")
}

var bcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func TestIntegrationSession(t *testing.T) {
	nstest.Skip(t)
	e := setup(t, Options{}, func(bng *nstest.NS) {
		// No IPv6 on the first session so that Tx counts only our echo
		// replies (no router solicitations or MLD reports).
		bng.Exec(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
		// Leftovers: a marked ppp TUN (removed by New) and an unmarked one.
		bng.IP(t, "tuntap", "add", "mode", "tun", "name", "ppp90")
		bng.IP(t, "link", "set", "ppp90", "group", "25186")
		bng.IP(t, "tuntap", "add", "mode", "tun", "name", "ppp91")
	})
	if _, err := netlink.LinkByName("ppp90"); err == nil {
		t.Error("marked leftover ppp90 survived New")
	}
	if _, err := netlink.LinkByName("ppp91"); err != nil {
		t.Errorf("unmarked ppp91 was removed: %v", err)
	}
	peerMAC, bngMAC := e.peer.MAC(), e.port.MAC()

	// Discovery, untagged and tagged, arrives with tags in-band.
	for _, tags := range [][][2]uint16{nil, {{0x8100, 100}}, {{0x88a8, 100}, {0x8100, 200}}} {
		f := padi(bcast, peerMAC, tags)
		e.write(t, f)
		if got := recv(t, e.discCh, "discovery frame"); !bytes.Equal(got, f) {
			t.Errorf("discovery\n got % x\nwant % x", got, f)
		}
	}

	tags := [][2]uint16{{0x88a8, 100}, {0x8100, 200}}
	ctlCh := make(chan ctlFrame, 16)
	s, err := e.dp.NewPPPoESession(dataplane.PPPoEParams{
		Port: e.port, Peer: peerMAC, VLANs: []uint16{100, 200}, SessionID: 0x1234,
		Control: func(proto uint16, p []byte) { ctlCh <- ctlFrame{proto, append([]byte(nil), p...)} },
	})
	if err != nil {
		t.Fatal(err)
	}

	// Control in and out.
	lcp := []byte{9, 1, 0, 8, 0, 0, 0, 0} // LCP Echo-Request
	e.write(t, pppoe(bngMAC, peerMAC, tags, 0x1234, 0xc021, lcp))
	if got := recv(t, ctlCh, "control frame"); got.proto != 0xc021 || !bytes.Equal(got.payload, lcp) {
		t.Errorf("control = %#04x % x", got.proto, got.payload)
	}
	if err := s.SendControl(0xc021, lcp); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.nextSession(t, 0xc021); !bytes.Equal(got, pppoe(peerMAC, bngMAC, tags, 0x1234, 0xc021, lcp)) {
		t.Errorf("SendControl frame\n got % x", got)
	}

	// An echo request before Up is held, then answered after Up.
	echo1 := icmpEcho(peerIP, localIP, 1)
	e.write(t, pppoe(bngMAC, peerMAC, tags, 0x1234, ProtoIPv4, echo1))
	e.sync(t)
	if s.Interface() != "" {
		t.Fatalf("interface %q before Up", s.Interface())
	}
	cfg := dataplane.LinkConfig{LocalIP: localIP, PeerIP: peerIP, MTU: 1480}
	ops := e.dp.nl.ops.Load()
	if err := s.Up(cfg); err != nil {
		t.Fatal(err)
	}
	if n := e.dp.nl.ops.Load() - ops; n != 3 {
		t.Errorf("Up made %d netlink requests, want 3", n)
	}
	ifname := s.Interface()
	if !regexp.MustCompile(`^ppp[0-9]+$`).MatchString(ifname) {
		t.Fatalf("interface name %q", ifname)
	}
	var replies [][]byte
	for seq := uint16(1); seq <= 2; seq++ {
		if seq == 2 {
			e.write(t, pppoe(bngMAC, peerMAC, tags, 0x1234, ProtoIPv4, icmpEcho(peerIP, localIP, 2)))
		}
		b, f := e.nextSession(t, ProtoIPv4)
		hdr := pppoe(peerMAC, bngMAC, tags, 0x1234, ProtoIPv4, nil)
		if !bytes.Equal(b[:len(hdr)-4], hdr[:len(hdr)-4]) {
			t.Errorf("reply header\n got % x\nwant % x", b[:len(hdr)], hdr)
		}
		ip := f.Payload
		if len(ip) < 28 || ip[9] != 1 || ip[20] != 0 ||
			netip.AddrFrom4([4]byte(ip[12:16])) != localIP || netip.AddrFrom4([4]byte(ip[16:20])) != peerIP ||
			binary.BigEndian.Uint16(ip[26:]) != seq {
			t.Fatalf("reply %d is not an echo reply 10.77.0.1 -> 10.77.0.2: % x", seq, ip)
		}
		replies = append(replies, ip)
	}
	wantSt := dataplane.Stats{
		RxPackets: 2, RxBytes: uint64(2 * len(echo1)),
		TxPackets: 2, TxBytes: uint64(len(replies[0]) + len(replies[1])),
	}
	// The TUN reader counts right after its write returns, which may be
	// after the subscriber side has the frame: allow it a moment.
	st := s.Stats()
	for end := time.Now().Add(5 * time.Second); st != wantSt && time.Now().Before(end); st = s.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st != wantSt {
		t.Errorf("stats = %+v, want %+v", st, wantSt)
	}

	// The interface as the kernel sees it.
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	a := link.Attrs()
	if a.MTU != 1480 || a.Group != DefaultGroup || a.RawFlags&0x1 == 0 {
		t.Errorf("link mtu %d group %d flags %#x", a.MTU, a.Group, a.RawFlags)
	}
	if a.Statistics == nil || a.Statistics.RxPackets != 2 || a.Statistics.TxPackets != 2 {
		t.Errorf("kernel link stats %+v", a.Statistics)
	}
	checkAddr := func(want netip.Addr) {
		t.Helper()
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		if len(addrs) != 1 || addrs[0].IP.String() != localIP.String() || addrs[0].Peer == nil ||
			addrs[0].Peer.IP.String() != want.String() {
			t.Errorf("addrs = %v, want %s peer %s", addrs, localIP, want)
		}
		routes, err := netlink.RouteGet(want.AsSlice())
		if err != nil || len(routes) != 1 || routes[0].LinkIndex != a.Index {
			t.Errorf("route to %s = %v, %v; want via %s", want, routes, err, ifname)
		}
	}
	checkAddr(peerIP)

	// Up with the same config does no netlink work; a new peer is a diff.
	ops = e.dp.nl.ops.Load()
	if err := s.Up(cfg); err != nil {
		t.Fatal(err)
	}
	if n := e.dp.nl.ops.Load() - ops; n != 0 {
		t.Errorf("idempotent Up made %d netlink requests", n)
	}
	cfg.PeerIP = peerIP2
	if err := s.Up(cfg); err != nil {
		t.Fatal(err)
	}
	if n := e.dp.nl.ops.Load() - ops; n != 2 {
		t.Errorf("peer change made %d netlink requests, want 2 (del + add)", n)
	}
	if s.Interface() != ifname {
		t.Errorf("interface changed to %s", s.Interface())
	}
	checkAddr(peerIP2)

	// Unknown session and malformed frames are counted.
	e.write(t, pppoe(bngMAC, peerMAC, tags, 0x4321, ProtoIPv4, echo1))
	e.write(t, pppoe(bngMAC, peerMAC, nil, 0x1234, ProtoIPv4, echo1)) // right sid, wrong VLANs
	bad := pppoe(bngMAC, peerMAC, nil, 0x1234, ProtoIPv4, echo1)
	bad[14] = 0x12
	e.write(t, bad)
	e.sync(t)
	if d := e.port.Drops(); d["unknown_session"] != 2 || d["bad_version"] != 1 {
		t.Errorf("drops = %v", d)
	}

	// Close removes the interface and the demux entry.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	e.dp.WaitDeleted()
	if _, err := netlink.LinkByName(ifname); err == nil {
		t.Errorf("%s still exists after Close", ifname)
	}
	e.write(t, pppoe(bngMAC, peerMAC, tags, 0x1234, ProtoIPv4, echo1))
	e.sync(t)
	if d := e.port.Drops(); d["unknown_session"] != 3 {
		t.Errorf("after Close drops = %v", d)
	}
	if err := s.Up(cfg); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Up after Close = %v", err)
	}

	// IPv6: link-local addresses from the interface identifiers.
	e.bng.Exec(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=0")
	s2, err := e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: peerMAC, SessionID: 2})
	if err != nil {
		t.Fatal(err)
	}
	ops = e.dp.nl.ops.Load()
	if err := s2.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: peerIP, LocalIfaceID: 1, PeerIfaceID: 2}); err != nil {
		t.Fatal(err)
	}
	// link, v4 address, v6 link-local, v6 route to the peer, up.
	if n := e.dp.nl.ops.Load() - ops; n != 5 {
		t.Errorf("dual-stack Up made %d netlink requests, want 5", n)
	}
	link2, err := netlink.LinkByName(s2.Interface())
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(link2, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, ad := range addrs {
		ones, _ := ad.Mask.Size()
		if ad.IP.String() == "fe80::1" && ad.Peer == nil && ones == 128 {
			found = true
		}
	}
	if !found || len(addrs) != 1 {
		t.Errorf("IPv6 addrs = %v, want fe80::1/128", addrs)
	}
	// The peer route is the peer's /128, not fe80::/64: every session's
	// fe80::/64 on the same FIB node made each insertion scan all of them.
	routes, err := netlink.RouteList(link2, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	var peerRoute bool
	for _, r := range routes {
		if r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() {
			if ones, _ := r.Dst.Mask.Size(); ones != 128 || r.Dst.IP.String() != "fe80::2" {
				t.Errorf("link-local route %s on %s, want only fe80::2/128", r.Dst, s2.Interface())
			}
			peerRoute = true
		}
	}
	if !peerRoute {
		t.Errorf("no route to fe80::2 on %s: %v", s2.Interface(), routes)
	}
	// A BNG does not solicit routers from its subscribers.
	if v := strings.TrimSpace(e.bng.Exec(t, "cat", "/proc/sys/net/ipv6/conf/"+s2.Interface()+"/router_solicitations")); v != "0" {
		t.Errorf("router_solicitations on %s = %q, want 0", s2.Interface(), v)
	}
	// An ICMPv6 echo to our link-local address is answered through the
	// route to the peer's. The kernel may insert the local route of a new
	// address from a work item, so the first echo may find it missing (and
	// draw a Destination Unreachable); a client retries, so do we.
	bngMAC6 := e.port.MAC()
	replied := false
	for try := 0; try < 20 && !replied; try++ {
		e.write(t, pppoe(bngMAC6, peerMAC, nil, 2, ProtoIPv6,
			icmp6Echo(netip.MustParseAddr("fe80::2"), netip.MustParseAddr("fe80::1"), uint16(try))))
		for wait := time.After(250 * time.Millisecond); !replied; {
			var b []byte
			select {
			case b = <-e.peerCh:
			case <-wait:
			}
			if b == nil {
				break
			}
			var f sessionFrame
			if parseSession(b, &f) != nil || f.Proto != ProtoIPv6 || len(f.Payload) < 41 || f.Payload[6] != 58 {
				continue
			}
			switch f.Payload[40] {
			case 133: // a BNG is a router: it must not solicit one from its subscriber
				t.Errorf("router solicitation sent to the subscriber: % x", f.Payload)
			case 129: // echo reply
				if f.SessionID != 2 || netip.AddrFrom16([16]byte(f.Payload[24:40])) != netip.MustParseAddr("fe80::2") {
					t.Errorf("ICMPv6 echo reply: sid %d payload % x", f.SessionID, f.Payload)
				}
				replied = true
			}
		}
	}
	if !replied {
		t.Error("no ICMPv6 echo reply from fe80::1 through the session")
	}
	for wait := time.After(2500 * time.Millisecond); ; { // the kernel would solicit after rtr_solicit_delay (1 s)
		var b []byte
		select {
		case b = <-e.peerCh:
		case <-wait:
		}
		if b == nil {
			break
		}
		var f sessionFrame
		if parseSession(b, &f) == nil && f.Proto == ProtoIPv6 && len(f.Payload) > 40 && f.Payload[6] == 58 && f.Payload[40] == 133 {
			t.Errorf("router solicitation sent to the subscriber: % x", f.Payload)
		}
	}
	name2 := s2.Interface()
	// Dataplane.Close (in cleanup) must remove it; check here explicitly.
	if err := e.dp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(name2); err == nil {
		t.Errorf("%s survives Dataplane.Close", name2)
	}
	if links, _ := netlink.LinkList(); len(links) > 0 {
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, "ppp") && l.Attrs().Name != "ppp91" {
				t.Errorf("left over: %s", l.Attrs().Name)
			}
		}
	}
}

// TestIntegrationReuse: with IdleDevices, a closed session's device is
// parked down and the next session reuses it with its own config.
func TestIntegrationReuse(t *testing.T) {
	nstest.Skip(t)
	e := setup(t, Options{IdleDevices: 1}, nil)
	peerMAC, bngMAC := e.peer.MAC(), e.port.MAC()
	s1, err := e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: peerMAC, SessionID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: peerIP2, LocalIfaceID: 1, PeerIfaceID: 3}); err != nil {
		t.Fatal(err)
	}
	name := s1.Interface()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("parked %s: %v", name, err)
	}
	// Parked up (no link-down/up FIB walks) with only our link-local
	// address (deleting it walks the IPv6 FIB), so nothing routes to it.
	if link.Attrs().RawFlags&0x1 == 0 {
		t.Errorf("parked %s is down", name)
	}
	if addrs, _ := netlink.AddrList(link, netlink.FAMILY_ALL); len(addrs) != 1 || addrs[0].IP.String() != "fe80::1" {
		t.Errorf("parked %s has addresses %v, want only fe80::1", name, addrs)
	}
	if routes, _ := netlink.RouteList(link, netlink.FAMILY_V6); slices.ContainsFunc(routes, func(r netlink.Route) bool {
		return r.Dst != nil && r.Dst.IP.String() == "fe80::3"
	}) {
		t.Errorf("parked %s keeps the route to the old peer fe80::3", name)
	}
	if r, err := netlink.RouteGet(peerIP2.AsSlice()); err == nil && len(r) > 0 && r[0].LinkIndex == link.Attrs().Index {
		t.Errorf("route to the old peer still via parked %s", name)
	}
	// Something queued while parked (here: a packet written by hand, as
	// the kernel would for a late packet) must not reach the next session.
	e.bng.Exec(t, "ip", "addr", "add", "192.0.2.99/32", "peer", "192.0.2.98", "dev", name)
	e.bng.Exec(t, "sh", "-c", "ping -c 1 -W 1 192.0.2.98 >/dev/null || true") // queued, unread
	e.bng.Exec(t, "ip", "addr", "del", "192.0.2.99/32", "peer", "192.0.2.98", "dev", name)

	s2, err := e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: peerMAC, SessionID: 2})
	if err != nil {
		t.Fatal(err)
	}
	ops := e.dp.nl.ops.Load()
	if err := s2.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: peerIP, MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	// MTU and v4 add; the device is already up.
	if n := e.dp.nl.ops.Load() - ops; n != 2 {
		t.Errorf("reusing Up made %d netlink requests, want 2", n)
	}
	if s2.Interface() != name {
		t.Errorf("s2 got %s, want the parked %s", s2.Interface(), name)
	}
	link, _ = netlink.LinkByName(name)
	if link.Attrs().MTU != 1400 || link.Attrs().RawFlags&0x1 == 0 {
		t.Errorf("reused link mtu %d flags %#x", link.Attrs().MTU, link.Attrs().RawFlags)
	}
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].Peer == nil || addrs[0].Peer.IP.String() != peerIP.String() {
		t.Errorf("reused addrs = %v, want only %s peer %s", addrs, localIP, peerIP)
	}
	e.write(t, pppoe(bngMAC, peerMAC, nil, 2, ProtoIPv4, icmpEcho(peerIP, localIP, 7)))
	if _, f := e.nextSession(t, ProtoIPv4); f.SessionID != 2 || f.Payload[20] != 0 {
		t.Errorf("reply through reused device: sid %d type %d", f.SessionID, f.Payload[20])
	}
	if err := e.dp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(name); err == nil {
		t.Errorf("%s survives Dataplane.Close", name)
	}
}

// TestIntegrationPrefill: Prefill fills the idle pool with configured, up
// devices, and the first session reuses one with a single request.
func TestIntegrationPrefill(t *testing.T) {
	nstest.Skip(t)
	e := setup(t, Options{IdleDevices: 3}, nil)
	e.bng.Exec(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=0")
	n, err := e.dp.Prefill(1480, 1)
	if err != nil || n != 3 {
		t.Fatalf("Prefill = %d, %v; want 3", n, err)
	}
	if n, err := e.dp.Prefill(1480, 0); err != nil || n != 0 {
		t.Errorf("second Prefill = %d, %v; want 0 (pool full)", n, err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var ours int
	for _, l := range links {
		a := l.Attrs()
		if a.Group != DefaultGroup {
			continue
		}
		ours++
		if a.MTU != 1480 || a.RawFlags&0x1 == 0 {
			t.Errorf("prefilled %s: mtu %d flags %#x, want 1480 and up", a.Name, a.MTU, a.RawFlags)
		}
		if addrs, _ := netlink.AddrList(l, netlink.FAMILY_ALL); len(addrs) != 1 || addrs[0].IP.String() != "fe80::1" {
			t.Errorf("prefilled %s has addresses %v, want only fe80::1", a.Name, addrs)
		}
	}
	if ours != 3 {
		t.Errorf("%d prefilled devices, want 3", ours)
	}
	peerMAC, bngMAC := e.peer.MAC(), e.port.MAC()
	s, err := e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: peerMAC, SessionID: 5})
	if err != nil {
		t.Fatal(err)
	}
	ops := e.dp.nl.ops.Load()
	if err := s.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: peerIP, MTU: 1480, LocalIfaceID: 1, PeerIfaceID: 2}); err != nil {
		t.Fatal(err)
	}
	if n := e.dp.nl.ops.Load() - ops; n != 2 {
		t.Errorf("Up on a prefilled device made %d netlink requests, want 2 (IPv4 address, IPv6 peer route)", n)
	}
	e.write(t, pppoe(bngMAC, peerMAC, nil, 5, ProtoIPv4, icmpEcho(peerIP, localIP, 9)))
	if _, f := e.nextSession(t, ProtoIPv4); f.SessionID != 5 || f.Payload[20] != 0 {
		t.Errorf("reply through prefilled device: sid %d type %d", f.SessionID, f.Payload[20])
	}
}

// TestIntegrationConcurrent runs sessions up and down from several
// goroutines while the subscriber side sends traffic to all of them; run it
// with -race.
func TestIntegrationConcurrent(t *testing.T) {
	nstest.Skip(t)
	e := setup(t, Options{IdleDevices: 4}, nil)
	peerMAC, bngMAC := e.peer.MAC(), e.port.MAC()
	const workers, rounds = 6, 8
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() { // traffic to every session ID in use, known or not
		defer close(sent)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sid := uint16(i%(workers*rounds) + 1)
			_ = e.peer.WriteFrame(pppoe(bngMAC, peerMAC, nil, sid, ProtoIPv4, icmpEcho(peerIP, localIP, uint16(i))))
			_ = e.peer.WriteFrame(pppoe(bngMAC, peerMAC, nil, sid, 0xc021, []byte{9, 1, 0, 8, 0, 0, 0, 0}))
		}
	}()
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var err error
			e.bng.Do(t, func() {
				for r := range rounds {
					sid := uint16(w*rounds + r + 1)
					var s dataplane.Session
					s, err = e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: peerMAC, SessionID: sid,
						Control: func(uint16, []byte) {}})
					if err != nil {
						return
					}
					ip := netip.AddrFrom4([4]byte{10, 79, byte(w), byte(r + 1)})
					if err = s.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: ip}); err != nil {
						return
					}
					_ = s.SendControl(0xc021, []byte{10, 1, 0, 8, 0, 0, 0, 0})
					_ = s.Stats()
					if err = s.Close(); err != nil {
						return
					}
				}
			})
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// Every session is closed now and the sender still runs: its frames
	// must be counted as drops, not crash or leak into a device.
	deadline := time.Now().Add(10 * time.Second)
	for e.port.Drops()["unknown_session"] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	<-sent
	if d := e.port.Drops(); d["unknown_session"] == 0 {
		t.Errorf("drops = %v: traffic to closed sessions was not counted", d)
	}
}

// BenchmarkIntegrationSessionSetup measures session setup and teardown
// with a real TUN device and netlink, in a throwaway namespace: "up" is
// NewPPPoESession + Up (sessions closed after the timer stops), "up+close"
// adds Close (device deletion in the background, as in production).
func BenchmarkIntegrationSessionSetup(b *testing.B) {
	nstest.Skip(b)
	id := nstest.ID()
	bng, cli := nstest.New(b, id, "bng"), nstest.New(b, id, "cli")
	a, _ := nstest.Veth(b, id, bng, cli)
	for _, bc := range []struct {
		name      string
		withClose bool
		opts      Options
	}{
		{"up", false, Options{}},
		{"up+close", true, Options{}},
		{"up+close/reuse", true, Options{IdleDevices: 64}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var err error
			bng.Do(b, func() { err = benchSetup(b, a, bc.withClose, bc.opts) })
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

func benchSetup(b *testing.B, ifname string, withClose bool, opts Options) error {
	dp, err := New(nil, opts)
	if err != nil {
		return err
	}
	defer dp.Close()
	port, err := dp.OpenPort(ifname, nil)
	if err != nil {
		return err
	}
	peer := []byte{2, 0, 0, 0, 0, 1}
	var open []dataplane.Session
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s, err := dp.NewPPPoESession(dataplane.PPPoEParams{Port: port, Peer: peer, SessionID: uint16(i%60000 + 1)})
		if err != nil {
			return err
		}
		ip := netip.AddrFrom4([4]byte{10, 78, byte(i >> 8), byte(i)})
		if err := s.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: ip}); err != nil {
			return err
		}
		if withClose {
			if err := s.Close(); err != nil {
				return err
			}
		} else {
			open = append(open, s)
		}
	}
	b.StopTimer()
	for _, s := range open {
		s.Close()
	}
	return nil
}

// BenchmarkIntegrationUpstream measures subscriber -> TUN forwarding: the
// subscriber side writes b.N PPPoE frames carrying 64-byte UDP packets to
// a blackholed address; the metric is packets the session wrote to its TUN
// per second (rx_pps). Sender and receiver share the machine's CPUs.
func BenchmarkIntegrationUpstream(b *testing.B) {
	nstest.Skip(b)
	id := nstest.ID()
	bng, cli := nstest.New(b, id, "bng"), nstest.New(b, id, "cli")
	a, bname := nstest.Veth(b, id, bng, cli)
	bng.IP(b, "route", "add", "blackhole", "192.0.2.0/24")
	var peer *afpacket.Conn
	var err error
	cli.Do(b, func() { peer, err = afpacket.Listen(bname) })
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	bng.Do(b, func() {
		var dp *Dataplane
		if dp, err = New(nil, Options{}); err != nil {
			return
		}
		defer dp.Close()
		disc := make(chan struct{}, 1)
		var port dataplane.Port
		if port, err = dp.OpenPort(a, func(dataplane.Port, []byte) { disc <- struct{}{} }); err != nil {
			return
		}
		var s dataplane.Session
		s, err = dp.NewPPPoESession(dataplane.PPPoEParams{Port: port, Peer: peer.MAC(), SessionID: 1})
		if err != nil {
			return
		}
		if err = s.Up(dataplane.LinkConfig{LocalIP: localIP, PeerIP: peerIP}); err != nil {
			return
		}
		udp := make([]byte, 64)
		copy(udp, []byte{0x45, 0, 0, 64, 0, 0, 0x40, 0, 64, 17, 0, 0})
		copy(udp[12:], peerIP.AsSlice())
		copy(udp[16:], []byte{192, 0, 2, 1})
		binary.BigEndian.PutUint16(udp[10:], csum(udp[:20]))
		frame := pppoe(port.MAC(), peer.MAC(), nil, 1, ProtoIPv4, udp)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if err = peer.WriteFrame(frame); err != nil {
				return
			}
		}
		if err = peer.WriteFrame(padi(bcast, peer.MAC(), nil)); err != nil {
			return
		}
		select {
		case <-disc:
		case <-time.After(10 * time.Second):
		}
		el := time.Since(start)
		b.StopTimer()
		st := s.Stats()
		b.ReportMetric(float64(st.RxPackets)/el.Seconds(), "rx_pps")
		b.ReportMetric(float64(b.N-int(st.RxPackets)), "lost")
	})
	if err != nil {
		b.Fatal(err)
	}
}
