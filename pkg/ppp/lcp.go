package ppp

import (
	"encoding/binary"
	"time"
)

// LCP configuration option types (RFC 1661 §6, IANA).
const (
	lcpMRU      uint8 = 1
	lcpACCM     uint8 = 2 // RFC 1662 §7.1: rejected (meaningless on PPPoE/L2TP)
	lcpAuth     uint8 = 3
	lcpQuality  uint8 = 4
	lcpMagic    uint8 = 5
	lcpPFC      uint8 = 7
	lcpACFC     uint8 = 8
	lcpCallback uint8 = 13
	minMRU            = 64 // smallest MRU we accept
	chapAlgMD5  uint8 = 5  // RFC 1994 §3
)

// lcpHandler is LCP's option policy. It is a pointer-shaped value, so
// converting it to optionHandler does not allocate.
type lcpHandler struct{ l *Link }

func preferredAuth(m AuthMethod) AuthMethod {
	switch {
	case m&AuthCHAP != 0:
		return AuthCHAP
	case m&AuthPAP != 0:
		return AuthPAP
	}
	return AuthNone
}

func appendAuthOption(b []byte, m AuthMethod) []byte {
	switch m {
	case AuthPAP:
		return append(b, lcpAuth, 4, 0xc0, 0x23)
	case AuthCHAP:
		return append(b, lcpAuth, 5, 0xc2, 0x23, chapAlgMD5)
	}
	return b
}

func parseAuthOption(d []byte) AuthMethod {
	if len(d) < 2 {
		return AuthNone
	}
	switch binary.BigEndian.Uint16(d) {
	case ProtoPAP:
		if len(d) == 2 {
			return AuthPAP
		}
	case ProtoCHAP:
		if len(d) == 3 && d[2] == chapAlgMD5 {
			return AuthCHAP
		}
	}
	return AuthNone
}

func (h lcpHandler) appendRequest(b []byte) []byte {
	l := h.l
	if l.flags&flagRejMRU == 0 {
		b = append(b, lcpMRU, 4)
		b = binary.BigEndian.AppendUint16(b, l.localMRU)
	}
	if l.cfg.Role == RoleServer {
		b = appendAuthOption(b, l.auth)
	}
	if l.flags&flagRejMagic == 0 {
		b = append(b, lcpMagic, 6)
		b = binary.BigEndian.AppendUint32(b, l.localMagic)
	}
	return b
}

// verdict combines per-option verdicts: Reject beats Nak beats Ack.
func verdict(cur, v uint8) uint8 {
	if v > cur {
		return v
	}
	return cur
}

// nakOr returns Nak, or Reject once Max-Failure is reached.
func nakOr(nakOK bool) uint8 {
	if nakOK {
		return CodeConfigureNak
	}
	return CodeConfigureReject
}

func (h lcpHandler) checkRequest(opts []byte, emit uint8, nakOK bool) uint8 {
	code := CodeConfigureAck
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		v := CodeConfigureReject // ACCM, Quality, PFC, ACFC, callback, MRRU, unknown...
		switch o.Type {
		case lcpMRU:
			v = h.checkMRU(o.Data, emit, nakOK)
		case lcpAuth:
			v = h.checkAuth(o.Data, emit, nakOK)
		case lcpMagic:
			v = h.checkMagic(o.Data, emit, nakOK)
		}
		code = verdict(code, v)
		if emit == CodeConfigureReject && v == CodeConfigureReject {
			h.l.out = o.Append(h.l.out)
		}
	}
	if emit == 0 && code == CodeConfigureAck {
		h.apply(opts)
	}
	return code
}

// checkMRU: RFC 1661 §6.1; above what PPPoE allows (1492, or the RFC 4638
// payload) is Nak'd with the limit.
func (h lcpHandler) checkMRU(d []byte, emit uint8, nakOK bool) uint8 {
	if len(d) != 2 {
		return CodeConfigureReject
	}
	lim := h.l.mruLimit()
	if m := binary.BigEndian.Uint16(d); m <= lim && m >= minMRU {
		return CodeConfigureAck
	}
	v := nakOr(nakOK)
	if emit == CodeConfigureNak && v == emit {
		h.l.out = append(h.l.out, lcpMRU, 4)
		h.l.out = binary.BigEndian.AppendUint16(h.l.out, lim)
	}
	return v
}

// checkAuth: RFC 1661 §6.2. A server authenticates itself to nobody:
// Reject. A client accepts what it is configured for and Naks with its
// preference otherwise.
func (h lcpHandler) checkAuth(d []byte, emit uint8, nakOK bool) uint8 {
	l := h.l
	if l.cfg.Role == RoleServer || l.cfg.Auth == AuthNone || len(d) < 2 {
		return CodeConfigureReject
	}
	if m := parseAuthOption(d); m != AuthNone && l.cfg.Auth&m != 0 {
		return CodeConfigureAck
	}
	v := nakOr(nakOK)
	if emit == CodeConfigureNak && v == emit {
		l.out = appendAuthOption(l.out, preferredAuth(l.cfg.Auth))
	}
	return v
}

// checkMagic: RFC 1661 §6.4. Zero, or our own number (a possible
// loopback, counted), is Nak'd with a fresh random number.
func (h lcpHandler) checkMagic(d []byte, emit uint8, nakOK bool) uint8 {
	l := h.l
	if len(d) != 4 {
		return CodeConfigureReject
	}
	m := binary.BigEndian.Uint32(d)
	if m != 0 && (m != l.localMagic || l.flags&flagRejMagic != 0) {
		return CodeConfigureAck
	}
	if emit == 0 && m != 0 {
		l.loops++
	}
	v := nakOr(nakOK)
	if emit == CodeConfigureNak && v == emit {
		l.out = append(l.out, lcpMagic, 6)
		l.out = binary.BigEndian.AppendUint32(l.out, l.randMagic())
	}
	return v
}

// apply records the peer's acknowledged options.
func (h lcpHandler) apply(opts []byte) {
	l := h.l
	l.peerMRU, l.peerMagic = 1500, 0
	if l.cfg.Role == RoleClient {
		l.auth = AuthNone
	}
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		switch o.Type {
		case lcpMRU:
			l.peerMRU = binary.BigEndian.Uint16(o.Data)
		case lcpMagic:
			l.peerMagic = binary.BigEndian.Uint32(o.Data)
		case lcpAuth:
			l.auth = parseAuthOption(o.Data)
		}
	}
}

func (h lcpHandler) gotNak(opts []byte) {
	l := h.l
	d := NewOptionDecoder(opts)
	for d.Next() {
		o := d.Option()
		switch o.Type {
		case lcpMRU:
			if len(o.Data) == 2 {
				if m := binary.BigEndian.Uint16(o.Data); m >= minMRU && m <= l.mruLimit() {
					l.localMRU = m
				}
			}
		case lcpAuth:
			if m := parseAuthOption(o.Data); l.cfg.Role == RoleServer && l.cfg.Auth&m != 0 && m != AuthNone {
				l.auth = m
			}
		case lcpMagic:
			l.localMagic = l.randMagic() // RFC 1661 §6.4
		}
	}
}

func (h lcpHandler) gotReject(now int64, opts []byte) {
	l := h.l
	d := NewOptionDecoder(opts)
	for d.Next() {
		switch d.Option().Type {
		case lcpMRU:
			l.flags |= flagRejMRU
			l.localMRU = 1500
		case lcpMagic:
			l.flags |= flagRejMagic
		case lcpAuth:
			if l.cfg.Role == RoleServer && l.auth != AuthNone {
				// We must authenticate: without it there is no link. Our
				// own request rejected by "a peer" with our magic is a
				// looped-back line.
				r := ReasonNegotiation
				if l.loops > 0 {
					r = ReasonLoopback
				}
				l.fail(now, r, "peer rejected authentication")
				return
			}
		}
	}
}

func (h lcpHandler) tlu(now int64) {
	l := h.l
	l.phase = PhaseAuthenticate
	l.emit(Effect{Kind: EffectLinkUp})
	if iv := l.cfg.EchoInterval; iv > 0 {
		l.echoDL = now + int64(iv)
		l.flags &^= flagEchoOut
		l.echoMiss = 0
	}
	l.startAuth(now)
}

func (h lcpHandler) tld(now int64) {
	l := h.l
	l.ncpsDown(now)
	l.phase = PhaseTerminate
	l.echoDL, l.authDL = 0, 0
	if l.authState == authWait || l.authState == authPending {
		l.authState = authIdle
	}
}

func (h lcpHandler) tls(int64) { h.l.phase = PhaseEstablish }

func (h lcpHandler) tlf(now int64) { h.l.finish(now) }

// ncpsDown takes IPCP and IPv6CP down with LCP (RFC 1661 §3.7).
func (l *Link) ncpsDown(now int64) {
	if l.phase != PhaseNetwork {
		return
	}
	l.phase = PhaseTerminate
	l.ipcp.down(l, ipcpHandler{l}, now)
	l.ipv6cp.down(l, ipv6cpHandler{l}, now)
}

func (l *Link) inputLCP(now int64, pkt []byte) {
	p, _, err := Parse(pkt)
	if err != nil {
		l.stats.Malformed++
		return
	}
	if p.Code == CodeTerminateRequest && l.lcp.state == StateOpened && l.reason == ReasonNone {
		l.reason = ReasonPeerTerminate
	}
	h := lcpHandler{l}
	if !l.lcp.input(l, h, now, p, pkt) {
		l.inputLCPExtra(now, p, pkt)
	}
	if l.flags&flagDone == 0 && (l.loops >= uint8(l.cfg.maxFailure()) || l.flags&flagLoopback != 0) {
		l.fail(now, ReasonLoopback, "")
	}
}

// inputLCPExtra handles the LCP-only codes (RFC 1661 §5.7-5.9).
func (l *Link) inputLCPExtra(now int64, p Packet, raw []byte) {
	opened := l.lcp.state == StateOpened
	switch p.Code {
	case CodeProtocolReject:
		if !opened {
			l.stats.Discarded++
			return
		}
		if len(p.Data) < 2 {
			l.stats.Malformed++
			return
		}
		l.gotProtocolReject(now, binary.BigEndian.Uint16(p.Data))
	case CodeEchoRequest:
		if !opened || len(p.Data) < 4 {
			l.stats.Discarded++ // RFC 1661 §5.8: only in Opened
			return
		}
		if l.isOwnMagic(p.Data) {
			l.flags |= flagLoopback
			return
		}
		start := l.begin(CodeEchoReply, p.ID)
		l.out = binary.BigEndian.AppendUint32(l.out, l.sentMagic())
		l.out = append(l.out, l.clip(p.Data[4:], 4)...)
		l.end(ProtoLCP, start)
	case CodeEchoReply:
		if !opened || len(p.Data) < 4 {
			l.stats.Discarded++
			return
		}
		if l.isOwnMagic(p.Data) {
			l.flags |= flagLoopback
			return
		}
		l.gotEchoReply(now, p.ID)
	case CodeDiscardRequest, CodeIdentification, CodeTimeRemaining:
		// RFC 1661 §5.10, RFC 1570: silently discarded.
	default:
		l.lcp.ruc(l, raw)
	}
}

func (l *Link) sentMagic() uint32 {
	if l.flags&flagRejMagic != 0 {
		return 0
	}
	return l.localMagic
}

func (l *Link) isOwnMagic(d []byte) bool {
	m := binary.BigEndian.Uint32(d)
	return m != 0 && m == l.sentMagic() && l.peerMagic != m
}

// gotProtocolReject is RXJ for the rejected protocol (RFC 1661 §5.7).
func (l *Link) gotProtocolReject(now int64, proto uint16) {
	switch proto {
	case ProtoLCP:
		l.lcp.rxj(l, lcpHandler{l}, now, true)
	case ProtoIPCP:
		l.ipcp.rxj(l, ipcpHandler{l}, now, true)
	case ProtoIPv6CP:
		l.ipv6cp.rxj(l, ipv6cpHandler{l}, now, true)
	case ProtoPAP, ProtoCHAP:
		if l.phase == PhaseAuthenticate {
			l.fail(now, ReasonAuthFailed, "peer rejected the authentication protocol")
		}
	}
}

// Echo keepalive (RFC 1661 §5.8), outside the automaton.

func (l *Link) echoTick(now int64) {
	if l.flags&flagEchoOut != 0 {
		l.stats.EchoLost++
		l.echoMiss++
	}
	if int(l.echoMiss) >= l.cfg.echoFailures() {
		// Tell the peer, in case it is only deaf one way, and go down
		// without waiting for an answer that will not come.
		if l.reason == ReasonNone {
			l.reason = ReasonEchoTimeout
		}
		l.lcp.close(l, lcpHandler{l}, now)
		l.finish(now)
		return
	}
	l.echoID++
	start := l.begin(CodeEchoRequest, l.echoID)
	l.out = binary.BigEndian.AppendUint32(l.out, l.sentMagic())
	l.end(ProtoLCP, start)
	l.flags |= flagEchoOut
	l.echoSent = now
	l.stats.EchoSent++
	l.echoDL = now + int64(l.cfg.EchoInterval)
}

func (l *Link) gotEchoReply(now int64, id uint8) {
	if l.flags&flagEchoOut == 0 || id != l.echoID {
		l.stats.Discarded++
		return
	}
	l.flags &^= flagEchoOut
	l.echoMiss = 0
	rtt := now - l.echoSent
	if rtt < 0 {
		rtt = 0
	}
	s := &l.stats
	r := time.Duration(rtt)
	if s.EchoReplies == 0 || r < s.RTTMin {
		s.RTTMin = r
	}
	if r > s.RTTMax {
		s.RTTMax = r
	}
	s.RTTSum += r
	if s.EchoReplies > 0 {
		d := r - s.lastRTT
		if d < 0 {
			d = -d
		}
		s.Jitter += (d - s.Jitter) / 16
	}
	s.lastRTT = r
	s.EchoReplies++
}

// ResetQuality starts a new line-quality window: it zeroes the echo
// counters and RTT figures of Stats (not the drop counters), so that an
// owner publishing quality every interval reads Stats and then resets.
func (l *Link) ResetQuality() {
	s := &l.stats
	s.EchoSent, s.EchoReplies, s.EchoLost = 0, 0, 0
	s.RTTMin, s.RTTMax, s.RTTSum, s.Jitter, s.lastRTT = 0, 0, 0, 0, 0
}
