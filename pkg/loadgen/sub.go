package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bngbox/bngbox/l2tp"
	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pppoe"
)

// sub is one emulated subscriber; its fields belong to its goroutine.
type sub struct {
	g        *Gen
	idx      int
	mac      net.HardwareAddr
	user     string
	in       chan []byte
	launched bool

	ac       net.HardwareAddr
	sid      uint16
	call     *l2tp.Call    // L2TP mode: the established call
	lost     chan struct{} // L2TP mode: closed (by the LAC loop) when the call ends
	proxy    *ppp.Proxy    // L2TP mode with proxy authentication: our side of what the LAC negotiated
	lostSeen bool
	link     *ppp.Link
	ip       netip.Addr
	up       bool
	down     bool
	buf      []byte

	downReason ppp.Reason // why PPP went down, and the detail
	downMsg    string
	hangingUp  bool        // we are ending the session (a PADT now is no news)
	hp         *holdPinger // pings while held (Config.PingInterval)
	tun        *tunLink    // Config.TUN: the subscriber's TUN device while up
	// fast is tun while it is open, for the generator's reader: it writes
	// the session's TCP and UDP packets to the TUN itself (see fastPath).
	fast atomic.Pointer[tunLink]
}

func newSub(g *Gen, idx int) *sub {
	return &sub{
		g:    g,
		idx:  idx,
		mac:  net.HardwareAddr{0x02, g.cfg.MACBase, 0, byte(idx >> 16), byte(idx >> 8), byte(idx)},
		user: expand(g.cfg.UserFormat, idx),
		in:   make(chan []byte, 64),
	}
}

// expand formats a username or password format with the subscriber's
// index; a format without a verb is taken literally.
func expand(format string, idx int) string {
	if !strings.Contains(format, "%") {
		return format
	}
	return fmt.Sprintf(format, idx)
}

func isClosed(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, unix.EBADF) || errors.Is(err, net.ErrClosed)
}

// run brings the session up (calling setupDone once, success or not), pings,
// holds until hold closes, then hangs up.
func (s *sub) run(ctx context.Context, setupDone func(), hold <-chan struct{}) {
	s.launched = true
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.g.cfg.Timeout)
	var err error
	if s.g.lac != nil {
		err = s.placeCall(ctx)
	} else {
		err = s.discover(ctx)
	}
	if err == nil {
		err = s.negotiate(ctx)
	}
	cancel()
	if err != nil {
		s.g.fail(err.Error())
		s.g.cfg.Log.Debug("session failed", "user", s.user, "err", err)
		setupDone()
		s.lowerHangup()
		return
	}
	s.g.upDone(time.Since(begin))
	setupDone()
	if s.g.cfg.Ping.IsValid() {
		s.ping()
	}
	if s.g.cfg.TUN && !s.down {
		s.startTUN()
	}
	if s.g.cfg.Silent {
		s.holdSilent(hold)
		return
	}
	s.hold(hold)
	if s.tun != nil {
		s.fast.Store(nil)
		s.tun.Close()
	}
	s.hangup()
}

func (s *sub) send(b []byte) {
	if err := s.g.write(b); err != nil && !isClosed(err) {
		s.g.fail("write")
	}
}

// discovery sends PADI then PADR with retransmissions.
func (s *sub) discover(ctx context.Context) error {
	hostUniq := binary.BigEndian.AppendUint32(nil, uint32(s.idx))
	padi := pppoe.Packet{Code: pppoe.CodePADI}
	padi.Add(pppoe.TagServiceName, nil)
	padi.Add(pppoe.TagHostUniq, hostUniq)
	var pado pppoe.Packet
	if err := s.exchange(ctx, broadcast, &padi, pppoe.CodePADO, hostUniq, &pado, "no PADO"); err != nil {
		return err
	}
	padr := pppoe.Packet{Code: pppoe.CodePADR}
	svc, _ := pado.ServiceName()
	padr.Add(pppoe.TagServiceName, []byte(svc))
	padr.Add(pppoe.TagHostUniq, hostUniq)
	if c := pado.Cookie(); c != nil {
		padr.Add(pppoe.TagACCookie, c)
	}
	if r := pado.RelaySessionID(); r != nil {
		padr.Add(pppoe.TagRelaySessionID, r)
	}
	var pads pppoe.Packet
	if err := s.exchange(ctx, s.ac, &padr, pppoe.CodePADS, hostUniq, &pads, "no PADS"); err != nil {
		return err
	}
	if pads.SessionID == 0 {
		if t, msg, ok := pads.Error(); ok {
			return fmt.Errorf("PADS error %v %s", t, msg)
		}
		return errors.New("PADS without session ID")
	}
	s.sid = pads.SessionID
	return nil
}

// exchange sends req (to dst) until a reply of code want with our Host-Uniq
// arrives; it learns the AC's MAC from the reply.
func (s *sub) exchange(ctx context.Context, dst net.HardwareAddr, req *pppoe.Packet, want pppoe.Code, hostUniq []byte, reply *pppoe.Packet, timeoutErr string) error {
	frame := req.Append(s.g.frameHeader(nil, s, dst, 0x8863))
	wait := 500 * time.Millisecond
	for try := 0; try < 6; try++ {
		s.send(frame)
		t := time.NewTimer(wait)
		for {
			select {
			case f := <-s.in:
				h, body, ok := parseFrame(f)
				if !ok || h.EtherType != 0x8863 {
					continue
				}
				p, _, err := pppoe.Parse(body)
				if err != nil || p.Code != want || string(p.HostUniq()) != string(hostUniq) {
					continue
				}
				t.Stop()
				*reply = p
				if want == pppoe.CodePADO {
					s.ac = append(net.HardwareAddr(nil), h.Src...)
				}
				return nil
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return errors.New(timeoutErr)
			}
			break
		}
		wait = min(wait*2, 4*time.Second)
	}
	return errors.New(timeoutErr)
}

func (s *sub) clientConfig() *ppp.Config {
	pw := expand(s.g.cfg.Password, s.idx)
	c := &ppp.Config{Role: ppp.RoleClient, Username: s.user, Password: pw, IPv6: true}
	switch s.g.cfg.Auth {
	case "pap":
		c.Auth = ppp.AuthPAP
	case "chap":
		c.Auth = ppp.AuthCHAP
	default:
		c.Auth = ppp.AuthPAP | ppp.AuthCHAP
	}
	return c
}

// negotiate runs PPP until IPCP is up.
func (s *sub) negotiate(ctx context.Context) error {
	s.link = ppp.New(s.clientConfig())
	if s.proxy != nil {
		// The LAC already negotiated LCP and authenticated us; the
		// verdict comes from the LNS.
		fx, err := s.link.OpenProxy(time.Now(), *s.proxy)
		if err != nil {
			return err
		}
		s.perform(fx)
	} else {
		s.perform(s.link.Open(time.Now()))
	}
	for !s.up {
		if s.down {
			if s.downReason == ppp.ReasonAuthFailed {
				return fmt.Errorf("auth failed: %s", s.downMsg)
			}
			return fmt.Errorf("ppp down: %v", s.link.Reason())
		}
		if err := s.step(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// step waits for one frame or timer and feeds the link. onIP, if set,
// receives IPv4 packets (echo requests to us are answered, not passed on).
func (s *sub) step(ctx context.Context, onIP func([]byte)) error {
	_, err := s.stepOr(ctx, onIP, nil)
	return err
}

// stepOr is step that also returns (true) when wake fires.
func (s *sub) stepOr(ctx context.Context, onIP func([]byte), wake <-chan time.Time) (bool, error) {
	var timer <-chan time.Time
	if d := s.link.NextDeadline(); !d.IsZero() {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		timer = t.C
	}
	lost := s.lost
	if s.lostSeen {
		lost = nil
	}
	select {
	case f := <-s.in:
		if s.g.lac != nil {
			s.inputPPP(f, onIP)
		} else {
			s.input(f, onIP)
		}
	case <-lost:
		s.lostSeen = true
		s.callLost()
	case now := <-timer:
		s.perform(s.link.Tick(now))
	case <-wake:
		return true, nil
	case <-ctx.Done():
		return false, errors.New("setup timeout in PPP " + s.link.Phase().String())
	}
	return false, nil
}

func (s *sub) input(f []byte, onIP func([]byte)) {
	h, body, ok := parseFrame(f)
	if !ok {
		return
	}
	if h.EtherType == 0x8863 {
		s.inputPADT(body)
		return
	}
	ph, payload, _, err := pppoe.ParseHeader(body)
	if err != nil || ph.SessionID != s.sid {
		return
	}
	s.inputPPP(payload, onIP)
}

// inputPPP handles one PPP frame: protocol (2 bytes) + information.
func (s *sub) inputPPP(payload []byte, onIP func([]byte)) {
	if len(payload) < 2 {
		return
	}
	proto := binary.BigEndian.Uint16(payload)
	if proto == ppp.ProtoIPv4 {
		if r, ok := echoReply(payload[2:], s.ip); ok && s.up {
			s.g.answered.Add(1)
			s.sendPPP(ppp.ProtoIPv4, r)
			return
		}
		if onIP != nil {
			onIP(payload[2:])
		}
		return
	}
	s.perform(s.link.Input(time.Now(), proto, payload[2:]))
}

func (s *sub) perform(fx []ppp.Effect) {
	for _, e := range fx {
		switch e.Kind {
		case ppp.EffectSend:
			s.sendPPP(e.Proto, e.Data)
		case ppp.EffectUp:
			if e.Net.Proto == ppp.ProtoIPCP {
				s.ip = e.Net.LocalIP
				s.up = true
			}
		case ppp.EffectDown:
			s.down = true
			s.downReason, s.downMsg = e.Reason, e.Message
		}
	}
}

func (s *sub) sendPPP(proto uint16, data []byte) {
	if s.g.lac != nil {
		if s.call == nil {
			return
		}
		if err := s.call.SendPPP(proto, data); err != nil && !errors.Is(err, l2tp.ErrClosed) {
			s.g.fail("write")
		}
		return
	}
	b := s.g.frameHeader(s.buf[:0], s, s.ac, 0x8864)
	b = pppoe.AppendHeader(b, pppoe.Header{Code: 0, SessionID: s.sid, Length: uint16(2 + len(data))})
	b = binary.BigEndian.AppendUint16(b, proto)
	b = append(b, data...)
	s.buf = b
	s.send(b)
}

// ping sends PingCount echo requests, one at a time, each waiting up to 2 s.
func (s *sub) ping() {
	if !s.ip.Is4() {
		s.g.fail("no IPv4 address to ping from")
		return
	}
	id := uint16(s.idx)
	for seq := 1; seq <= s.g.cfg.PingCount && !s.down; seq++ {
		s.g.pingSent.Add(1)
		s.sendPPP(ppp.ProtoIPv4, ipv4Echo(s.ip, s.g.cfg.Ping, id, uint16(seq)))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got := false
		for !got && !s.down && ctx.Err() == nil {
			s.step(ctx, func(p []byte) {
				if isEchoReply(p, id) {
					got = true
				}
			})
		}
		cancel()
		if got {
			s.g.pingRecv.Add(1)
		}
	}
}

// inputPADT handles a discovery frame while the session exists: a PADT
// for our session ends it (RFC 2516 §5.5).
func (s *sub) inputPADT(body []byte) {
	p, _, err := pppoe.Parse(body)
	if err != nil || p.Code != pppoe.CodePADT || s.sid == 0 || p.SessionID != s.sid {
		return
	}
	if !s.hangingUp {
		s.g.padtRecv.Add(1)
	}
	s.sid = 0
	if !s.down {
		s.perform(s.link.LowerDown(time.Now()))
		s.down = true
	}
}

// hold keeps the session alive (answering LCP echoes and ICMP echo
// requests, and pinging every PingInterval) until hold closes.
func (s *sub) hold(hold <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-hold; cancel() }()
	var tick <-chan time.Time
	if iv := s.g.cfg.PingInterval; iv > 0 && s.g.cfg.Ping.IsValid() {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
		s.hp = newHoldPinger(uint16(s.idx), uint16(s.g.cfg.PingCount), s.g.start)
	}
	onIP := func(p []byte) {
		if s.hp != nil {
			s.hp.reply(p)
		}
		if s.tun != nil {
			s.tun.deliver(p)
		}
	}
	for !s.down && ctx.Err() == nil {
		if woke, _ := s.stepOr(ctx, onIP, tick); woke {
			seq := s.hp.next(time.Now())
			s.sendPPP(ppp.ProtoIPv4, ipv4Echo(s.ip, s.g.cfg.Ping, s.hp.id, seq))
		}
	}
	cancel()
	if s.hp != nil {
		// Give the last requests up to a second to be answered.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		for !s.down && len(s.hp.pending) > 0 && ctx.Err() == nil {
			s.step(ctx, onIP)
		}
		cancel()
		s.g.holdPing.add(s.hp.sent, s.hp.lost())
	}
	if s.down {
		s.g.dropped.Add(1)
		s.awaitPADT()
	}
}

// awaitPADT, after the AC ended PPP (LCP Terminate), waits a little for
// its PADT, then sends ours if none came, as pppd's PPPoE plugin does.
func (s *sub) awaitPADT() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for s.sid != 0 && ctx.Err() == nil {
		s.step(ctx, nil)
	}
	if s.sid != 0 {
		s.padt()
	}
}

// holdSilent holds without answering or sending anything (no LCP echo
// replies, no timers) until hold closes or a PADT arrives; it never hangs
// up. It emulates a subscriber that lost power.
func (s *sub) holdSilent(hold <-chan struct{}) {
	for s.sid != 0 {
		select {
		case f := <-s.in:
			if h, body, ok := parseFrame(f); ok && h.EtherType == 0x8863 {
				s.inputPADT(body)
			}
		case <-hold:
			return
		}
	}
	s.g.dropped.Add(1)
}

// hangup terminates PPP (bounded wait) then sends PADT.
func (s *sub) hangup() {
	if s.down {
		return
	}
	s.hangingUp = true
	if s.g.cfg.Hangup == "padt" {
		s.padt()
		return
	}
	s.perform(s.link.Close(time.Now(), ppp.ReasonAdmin))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	for !s.down && ctx.Err() == nil {
		s.step(ctx, nil)
	}
	cancel()
	s.lowerHangup()
}

// lowerHangup ends the access side: PADT, or CDN for an L2TP call.
func (s *sub) lowerHangup() {
	if s.call != nil {
		s.hangupCall()
		return
	}
	if s.sid != 0 {
		s.padt()
	}
}

func (s *sub) padt() {
	p := pppoe.Packet{Code: pppoe.CodePADT, SessionID: s.sid}
	s.send(p.Append(s.g.frameHeader(nil, s, s.ac, 0x8863)))
	s.sid = 0
}
