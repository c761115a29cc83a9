package ppp

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"time"
)

// Link flags.
const (
	flagDone     uint16 = 1 << iota // EffectDown emitted; the link ignores everything
	flagIPCP                        // IPCP enabled for this link
	flagIPv6CP                      // IPv6CP enabled for this link
	flagRejMRU                      // peer rejected our MRU
	flagRejMagic                    // peer rejected our Magic-Number
	flagRejAddr                     // peer rejected our IP-Address
	flagRejDNS1                     // peer rejected primary DNS
	flagRejDNS2                     // peer rejected secondary DNS
	flagRejIID                      // peer rejected our Interface-Identifier
	flagEchoOut                     // an Echo-Request is unanswered
	flagLoopback                    // our magic came back: terminate
)

// Authentication states.
const (
	authIdle    uint8 = iota
	authWait          // server: waiting for credentials; client: waiting for verdict/challenge
	authPending       // server: the owner is deciding
	authOK
	authFailed
)

// A Link is one PPP conversation (LCP, authentication, IPCP, IPv6CP) as a
// sans-I/O value. It is not safe for concurrent use: one owner calls it.
// Every method that takes now returns the effects to perform, in order; the
// returned slice and the Data in it are reused by the next call.
type Link struct {
	cfg *Config

	lcp, ipcp, ipv6cp fsm

	phase  Phase
	reason Reason
	flags  uint16

	// LCP (RFC 1661 §6).
	localMagic, peerMagic uint32
	localMRU, peerMRU     uint16
	maxPayload            uint16 // RFC 4638 PPP-Max-Payload of the PPPoE peer
	auth                  AuthMethod
	loops                 uint8 // Magic-Number collisions
	xid                   uint8 // Identifier of Code-/Protocol-Rejects

	// Authentication.
	authState uint8
	authID    uint8
	authTries uint8
	echoID    uint8
	echoMiss  uint8
	authDL    int64 // auth timer, Link clock; 0 when stopped
	challenge [16]byte
	message   string // auth verdict message (repeated on retransmitted requests)

	// Network.
	localIP, peerIP   [4]byte
	dns               [2][4]byte
	localIID, peerIID uint64
	fixedIID          uint64 // server: identifier imposed by NetParams

	// Echo keepalive.
	echoDL   int64 // next Echo-Request, Link clock; 0 when off
	echoSent int64

	stats Stats

	// base anchors the Link clock: times are nanoseconds since base, read
	// with time.Time.Sub so that a wall-clock step (NTP on a board with no
	// RTC) does not fire or stall timers when now carries a monotonic
	// reading.
	base time.Time

	out []byte   // output arena, reset by every call
	fx  []Effect // effects, reset by every call
}

// New returns a Link in the Dead phase. cfg is retained (not copied) and
// must outlive the Link unchanged.
func New(cfg *Config) *Link {
	l := &Link{cfg: cfg}
	l.lcp.proto, l.ipcp.proto, l.ipv6cp.proto = ProtoLCP, ProtoIPCP, ProtoIPv6CP
	l.peerMRU = 1500
	return l
}

// SetPeerMaxPayload records the PPPoE peer's RFC 4638 PPP-Max-Payload tag,
// which lets us advertise and accept an MRU up to n. Call it before Open.
func (l *Link) SetPeerMaxPayload(n uint16) { l.maxPayload = n }

// mruLimit is the largest MRU we advertise or accept.
func (l *Link) mruLimit() uint16 {
	lim := uint16(DefaultMRU)
	if l.maxPayload > lim {
		lim = l.maxPayload
	}
	if l.cfg.MRU != 0 && l.cfg.MRU < lim {
		lim = l.cfg.MRU
	}
	return lim
}

// maxControl bounds accepted control packets (and so the output arena).
func (l *Link) maxControl() int {
	if m := int(l.mruLimit()); m > 1500 {
		return m
	}
	return 1500
}

// clock converts now to the Link clock: nanoseconds since base, always
// positive (0 means "timer stopped").
func (l *Link) clock(now time.Time) int64 {
	if l.base.IsZero() {
		l.base = now.Add(-time.Second)
	}
	return int64(now.Sub(l.base))
}

func (l *Link) reset() {
	l.out = l.out[:0]
	clear(l.fx) // drop references to old AuthRequests and NetUps
	l.fx = l.fx[:0]
}

// Open starts the link: the lower layer is up (the PPPoE session or L2TP
// call exists) and LCP sends its first Configure-Request.
func (l *Link) Open(now time.Time) []Effect {
	l.reset()
	if l.flags&flagDone != 0 || l.lcp.state != StateInitial {
		return l.fx
	}
	t := l.clock(now)
	if l.out == nil {
		// Sized for a negotiation; grows only for large echoes/rejects.
		l.out, l.fx = make([]byte, 0, 192), make([]Effect, 0, 4)
	}
	l.localMRU = l.mruLimit()
	l.localMagic = l.randMagic()
	if l.cfg.Role == RoleServer {
		l.auth = preferredAuth(l.cfg.Auth)
	}
	h := lcpHandler{l}
	l.lcp.open(l, h, t)
	l.lcp.up(l, h, t)
	return l.fx
}

// Close terminates the link administratively (or for another reason, such
// as a session timeout the owner enforces): LCP sends Terminate-Request and
// the link goes down on Terminate-Ack or after Max-Terminate attempts.
func (l *Link) Close(now time.Time, reason Reason) []Effect {
	l.reset()
	if reason == ReasonNone {
		reason = ReasonAdmin
	}
	l.fail(l.clock(now), reason, "")
	return l.fx
}

// LowerDown reports that the lower layer is gone (PADT received, L2TP
// session closed): the link goes down at once, sending nothing.
func (l *Link) LowerDown(now time.Time) []Effect {
	l.reset()
	if l.flags&flagDone != 0 {
		return l.fx
	}
	t := l.clock(now)
	if l.reason == ReasonNone {
		l.reason = ReasonLowerDown
	}
	l.lcp.down(l, lcpHandler{l}, t)
	l.finish(t)
	return l.fx
}

// Input handles one received PPP frame: proto is the PPP protocol and pkt
// the packet after the protocol field. pkt must not alias a previous
// result's Data; it is not retained.
func (l *Link) Input(now time.Time, proto uint16, pkt []byte) []Effect {
	l.reset()
	if l.flags&flagDone != 0 {
		l.stats.Discarded++
		return l.fx
	}
	if len(pkt) > l.maxControl() {
		l.stats.Malformed++
		return l.fx
	}
	t := l.clock(now)
	if proto == ProtoLCP {
		l.inputLCP(t, pkt)
		return l.fx
	}
	// RFC 1661 §3.4: non-LCP packets before LCP is Opened are discarded.
	// A refused peer may still retransmit its credentials while we
	// terminate: it gets the same verdict again (RFC 1994 §4.2).
	refused := l.authState == authFailed && (proto == ProtoPAP || proto == ProtoCHAP)
	if l.lcp.state != StateOpened && !refused {
		l.stats.Discarded++
		return l.fx
	}
	switch proto {
	case ProtoPAP:
		l.inputPAP(t, pkt)
	case ProtoCHAP:
		l.inputCHAP(t, pkt)
	case ProtoIPCP:
		l.inputNCP(t, &l.ipcp, ipcpHandler{l}, flagIPCP, pkt)
	case ProtoIPv6CP:
		l.inputNCP(t, &l.ipv6cp, ipv6cpHandler{l}, flagIPv6CP, pkt)
	case ProtoIPv4, ProtoIPv6:
		l.stats.Discarded++ // data belongs to the dataplane
	default:
		l.protocolReject(proto, pkt)
	}
	return l.fx
}

func (l *Link) inputNCP(now int64, f *fsm, h optionHandler, flag uint16, pkt []byte) {
	if l.phase != PhaseNetwork {
		l.stats.Discarded++ // RFC 1661 §3.5: NCPs run in the Network phase only
		return
	}
	if l.flags&flag == 0 {
		l.protocolReject(f.proto, pkt)
		return
	}
	p, _, err := Parse(pkt)
	if err != nil {
		l.stats.Malformed++
		return
	}
	if !f.input(l, h, now, p, pkt) {
		f.ruc(l, pkt)
	}
}

// protocolReject sends LCP Protocol-Reject (RFC 1661 §5.7).
func (l *Link) protocolReject(proto uint16, pkt []byte) {
	l.stats.ProtoRejectsTx++
	l.xid++
	start := l.begin(CodeProtocolReject, l.xid)
	l.out = binary.BigEndian.AppendUint16(l.out, proto)
	l.out = append(l.out, l.clip(pkt, 2)...)
	l.end(ProtoLCP, start)
}

// Tick runs the timers that expired by now. Call it when now reaches
// NextDeadline.
func (l *Link) Tick(now time.Time) []Effect {
	l.reset()
	if l.flags&flagDone != 0 {
		return l.fx
	}
	t := l.clock(now)
	if d := l.lcp.deadline; d != 0 && d <= t {
		l.lcp.timeout(l, lcpHandler{l}, t)
	}
	if d := l.ipcp.deadline; d != 0 && d <= t && l.flags&flagDone == 0 {
		l.ipcp.timeout(l, ipcpHandler{l}, t)
	}
	if d := l.ipv6cp.deadline; d != 0 && d <= t && l.flags&flagDone == 0 {
		l.ipv6cp.timeout(l, ipv6cpHandler{l}, t)
	}
	if d := l.authDL; d != 0 && d <= t && l.flags&flagDone == 0 {
		l.authTimeout(t)
	}
	if d := l.echoDL; d != 0 && d <= t && l.flags&flagDone == 0 {
		l.echoTick(t)
	}
	return l.fx
}

// NextDeadline is when the owner must call Tick next; the zero Time when no
// timer runs.
func (l *Link) NextDeadline() time.Time {
	var m int64
	for _, d := range [...]int64{l.lcp.deadline, l.ipcp.deadline, l.ipv6cp.deadline, l.authDL, l.echoDL} {
		if d != 0 && (m == 0 || d < m) {
			m = d
		}
	}
	if m == 0 || l.flags&flagDone != 0 {
		return time.Time{}
	}
	return l.base.Add(time.Duration(m))
}

// Phase returns the link phase.
func (l *Link) Phase() Phase { return l.phase }

// LCPState, IPCPState and IPv6CPState return the automata's states.
func (l *Link) LCPState() State    { return l.lcp.state }
func (l *Link) IPCPState() State   { return l.ipcp.state }
func (l *Link) IPv6CPState() State { return l.ipv6cp.state }

// Reason is why the link went (or is going) down, ReasonNone while up.
func (l *Link) Reason() Reason { return l.reason }

// Stats returns the link's counters.
func (l *Link) Stats() Stats { return l.stats }

// MRU returns our negotiated MRU and the peer's.
func (l *Link) MRU() (local, peer uint16) { return l.localMRU, l.peerMRU }

// Done reports whether the link produced EffectDown.
func (l *Link) Done() bool { return l.flags&flagDone != 0 }

// fail records reason (if none yet) and closes LCP.
func (l *Link) fail(now int64, reason Reason, msg string) {
	if l.flags&flagDone != 0 {
		return
	}
	if l.reason == ReasonNone {
		l.reason = reason
		l.message = msg
	}
	if l.lcp.state == StateInitial {
		l.finish(now)
		return
	}
	l.lcp.close(l, lcpHandler{l}, now)
}

// finish emits EffectDown once and stops every timer.
func (l *Link) finish(now int64) {
	if l.flags&flagDone != 0 {
		return
	}
	if l.phase == PhaseNetwork || l.phase == PhaseAuthenticate {
		l.ncpsDown(now)
	}
	l.flags |= flagDone
	l.phase = PhaseDead
	if l.reason == ReasonNone {
		l.reason = ReasonNegotiation
	}
	l.lcp.deadline, l.ipcp.deadline, l.ipv6cp.deadline = 0, 0, 0
	l.authDL, l.echoDL = 0, 0
	msg := ""
	if l.reason == ReasonAuthFailed {
		msg = l.message
	}
	l.fx = append(l.fx, Effect{Kind: EffectDown, Reason: l.reason, Message: msg})
}

func (l *Link) emit(e Effect) { l.fx = append(l.fx, e) }

// begin starts a control packet in the output arena.
func (l *Link) begin(code, id uint8) int {
	start := len(l.out)
	l.out = append(l.out, code, id, 0, 0)
	return start
}

// end finishes the packet begun at start and queues it for sending.
func (l *Link) end(proto uint16, start int) {
	n := len(l.out)
	binary.BigEndian.PutUint16(l.out[start+2:], uint16(n-start))
	l.fx = append(l.fx, Effect{Kind: EffectSend, Proto: proto, Data: l.out[start:n:n]})
}

// clip truncates b so that a reject carrying it (header + extra + b) fits
// the peer's MRU.
func (l *Link) clip(b []byte, extra int) []byte {
	max := int(l.peerMRU) - HeaderLen - extra
	if max < 0 {
		max = 0
	}
	if len(b) > max {
		return b[:max]
	}
	return b
}

// sameRequest reports whether opts equal our current Configure-Request's
// options (RFC 1661 §5.2: a Configure-Ack must match exactly).
func (l *Link) sameRequest(h optionHandler, opts []byte) bool {
	start := len(l.out)
	l.out = h.appendRequest(l.out)
	eq := bytes.Equal(l.out[start:], opts)
	l.out = l.out[:start]
	return eq
}

func (l *Link) randBytes(b []byte) {
	if _, err := io.ReadFull(l.cfg.rand(), b); err != nil {
		// A broken reader still yields distinct values per link.
		x := uint64(l.localMagic)<<32 ^ uint64(l.echoSent) ^ 0x9e3779b97f4a7c15
		for i := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[i] = byte(x)
		}
	}
}

func (l *Link) randMagic() uint32 {
	var b [4]byte
	for {
		l.randBytes(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 && v != l.localMagic {
			return v
		}
		b[0]++ // never loop on a constant reader
		if v := binary.BigEndian.Uint32(b[:]); v != 0 && v != l.localMagic {
			return v
		}
	}
}

func (l *Link) randIID(avoid1, avoid2 uint64) uint64 {
	var b [8]byte
	l.randBytes(b[:])
	v := binary.BigEndian.Uint64(b[:])
	for v == 0 || v == avoid1 || v == avoid2 {
		v = v*6364136223846793005 + 1442695040888963407
	}
	return v
}

func addr4(a [4]byte) netip.Addr {
	if a == ([4]byte{}) {
		return netip.Addr{}
	}
	return netip.AddrFrom4(a)
}

func from4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().As4()
	}
	return [4]byte{}
}
